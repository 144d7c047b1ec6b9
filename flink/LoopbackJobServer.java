// Beam's Flink job server, with its Job API and artifact staging bound to --job-host only, and (with
// -Dbeam.flink.stage=none) no jars shipped with each job.
//
// Why the binding: FlinkJobServerDriver builds its gRPC servers with ServerFactory.createWithPortSupplier,
// whose servers call NettyServerBuilder.forPort(port), that is every interface, whatever --job-host says
// (Beam 2.70.0; seen with `ss -ltnp`: *:8099 and *:8098). Whoever reaches such a port can submit a
// job, that is, run code on this host. The driver takes its factories only in a private constructor,
// so this main sets the two fields before the servers are built; everything else is Beam's.
//
// Why the staging: Beam's FlinkJobInvoker hands Flink every entry of the job server's classpath as the
// job's user jars (163 jars, 157 MB here): each job uploads them to the JobManager's blob server, every
// TaskManager fetches them and loads Beam's classes anew in a fresh class loader (issue #42 measured 10-11 s
// of upload per job). Where the cluster already has the runner's jars on its own classpath (ops/flink.py
// starts Flink with them, FLINK_LIB_DIR), -Dbeam.flink.stage=none invokes the same FlinkPipelineRunner
// with nothing to stage. Without that property the job server stages its classpath, as Beam's does.
//
// -Dbeam.jobserver.bind=pod keeps Beam's own binding (every interface of the pod's network namespace,
// which is what the pod's published ports reach): the pods' job server uses this class for the staging.
//
// Compiled by ops/flink_dist.py against the pinned jars (javac, no Maven plugin):
//   javac -cp 'build/flink/beam-flink-job-server-2.70.0/lib/*' -d DIR flink/LoopbackJobServer.java
// Run as FlinkJobServerDriver is: java -cp 'DIR:lib/*' LoopbackJobServer --job-host=127.0.0.1 ...
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.beam.model.pipeline.v1.Endpoints.ApiServiceDescriptor;
import org.apache.beam.model.pipeline.v1.RunnerApi;
import org.apache.beam.runners.flink.FlinkJobInvoker;
import org.apache.beam.runners.flink.FlinkJobServerDriver;
import org.apache.beam.runners.flink.FlinkJobServerDriver.FlinkServerConfiguration;
import org.apache.beam.runners.flink.FlinkPipelineOptions;
import org.apache.beam.runners.flink.FlinkPipelineRunner;
import org.apache.beam.runners.jobsubmission.JobInvocation;
import org.apache.beam.runners.jobsubmission.JobServerDriver;
import org.apache.beam.sdk.fn.server.GrpcContextHeaderAccessorProvider;
import org.apache.beam.sdk.fn.server.ServerFactory;
import org.apache.beam.sdk.util.construction.PipelineOptionsTranslation;
import org.apache.beam.vendor.grpc.v1p69p0.com.google.protobuf.Struct;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.BindableService;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.ServerInterceptors;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.netty.NettyServerBuilder;
import org.apache.beam.vendor.guava.v32_1_2_jre.com.google.common.util.concurrent.ListeningExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class LoopbackJobServer {
  private LoopbackJobServer() {}

  public static void main(String[] args) throws Exception {
    FlinkServerConfiguration config = FlinkJobServerDriver.parseArgs(args);
    FlinkJobServerDriver driver =
        "none".equals(System.getProperty("beam.flink.stage"))
            ? FlinkJobServerDriver.fromConfig(config, () -> new UnstagedInvoker(config))
            : FlinkJobServerDriver.fromConfig(config);
    // In a pod (k8s/flink.yaml) the pod's own network is what must be reached: Beam's binding stays.
    if (!"pod".equals(System.getProperty("beam.jobserver.bind"))) {
      ServerFactory bound = new BoundServerFactory(driver.configuration.getHost());
      for (String name : new String[] {"jobServerFactory", "artifactServerFactory"}) {
        Field field = JobServerDriver.class.getDeclaredField(name);
        field.setAccessible(true);
        field.set(driver, bound);
      }
    }
    driver.run();
  }

  /** Beam's FlinkJobInvoker, but the runner it makes stages no jars: the cluster has them already. */
  static final class UnstagedInvoker extends FlinkJobInvoker {
    private static final Logger LOG = LoggerFactory.getLogger(UnstagedInvoker.class);
    private final String master;
    private final String confDir;

    UnstagedInvoker(FlinkServerConfiguration config) {
      super(config);
      this.master = field(config, "flinkMaster");
      this.confDir = field(config, "flinkConfDir");
    }

    private static String field(FlinkServerConfiguration config, String name) {
      try {
        Field f = FlinkServerConfiguration.class.getDeclaredField(name);
        f.setAccessible(true);
        return (String) f.get(config);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("FlinkServerConfiguration has no field " + name, e);
      }
    }

    @Override
    protected JobInvocation invokeWithExecutor(
        RunnerApi.Pipeline pipeline, Struct options, String retrievalToken,
        ListeningExecutorService executor) {
      FlinkPipelineOptions flinkOptions =
          PipelineOptionsTranslation.fromProto(options).as(FlinkPipelineOptions.class);
      String invocationId = flinkOptions.getJobName() + "_" + UUID.randomUUID();
      if (FlinkPipelineOptions.AUTO.equals(flinkOptions.getFlinkMaster())) {
        flinkOptions.setFlinkMaster(master);
      }
      FlinkPipelineRunner runner =
          new FlinkPipelineRunner(flinkOptions, confDir, Collections.emptyList());
      flinkOptions.setRunner(null);
      LOG.info("Invoking job {} with pipeline runner {} (no jars staged)", invocationId, runner);
      return createJobInvocation(invocationId, retrievalToken, executor, pipeline, flinkOptions, runner);
    }
  }

  /** Servers on one address, with the settings of Beam's own factory (message size, keep-alive, headers). */
  static final class BoundServerFactory extends ServerFactory {
    private final String host;

    BoundServerFactory(String host) {
      this.host = host;
    }

    @Override
    public Server allocateAddressAndCreate(
        List<BindableService> services, ApiServiceDescriptor.Builder descriptor) throws IOException {
      Server server = start(services, new InetSocketAddress(host, 0));
      descriptor.setUrl(host + ":" + server.getPort());
      return server;
    }

    @Override
    public Server create(List<BindableService> services, ApiServiceDescriptor descriptor)
        throws IOException {
      String url = descriptor.getUrl();
      int colon = url.lastIndexOf(':');
      return start(services, new InetSocketAddress(host, Integer.parseInt(url.substring(colon + 1))));
    }

    private static Server start(List<BindableService> services, InetSocketAddress address)
        throws IOException {
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(address)
              .maxInboundMessageSize(Integer.MAX_VALUE)
              .permitKeepAliveTime(20, TimeUnit.SECONDS);
      for (BindableService service : services) {
        builder.addService(
            ServerInterceptors.intercept(service, GrpcContextHeaderAccessorProvider.interceptor()));
      }
      return builder.build().start();
    }
  }
}
