// Beam's Flink job server, with its Job API and artifact staging bound to --job-host only.
//
// Why: FlinkJobServerDriver builds its gRPC servers with ServerFactory.createWithPortSupplier, whose
// servers call NettyServerBuilder.forPort(port), that is every interface, whatever --job-host says
// (Beam 2.70.0; seen with `ss -ltnp`: *:8099 and *:8098). Whoever reaches such a port can submit a
// job, that is, run code on this host. The driver takes its factories only in a private constructor,
// so this main sets the two fields before the servers are built; everything else is Beam's.
//
// Compiled by pipeline/flink_dist.py against the pinned jars (javac, no Maven plugin):
//   javac -cp 'build/flink/beam-flink-job-server-2.70.0/lib/*' -d DIR flink/LoopbackJobServer.java
// Run as FlinkJobServerDriver is: java -cp 'DIR:lib/*' LoopbackJobServer --job-host=127.0.0.1 ...
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.beam.model.pipeline.v1.Endpoints.ApiServiceDescriptor;
import org.apache.beam.runners.flink.FlinkJobServerDriver;
import org.apache.beam.runners.jobsubmission.JobServerDriver;
import org.apache.beam.sdk.fn.server.GrpcContextHeaderAccessorProvider;
import org.apache.beam.sdk.fn.server.ServerFactory;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.BindableService;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.Server;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.ServerInterceptors;
import org.apache.beam.vendor.grpc.v1p69p0.io.grpc.netty.NettyServerBuilder;

public final class LoopbackJobServer {
  private LoopbackJobServer() {}

  public static void main(String[] args) throws Exception {
    FlinkJobServerDriver driver = FlinkJobServerDriver.fromParams(args);
    ServerFactory bound = new BoundServerFactory(driver.configuration.getHost());
    for (String name : new String[] {"jobServerFactory", "artifactServerFactory"}) {
      Field field = JobServerDriver.class.getDeclaredField(name);
      field.setAccessible(true);
      field.set(driver, bound);
    }
    driver.run();
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
