"""preprocessing_fn on three rows read through TFXIO, as the Transform step reads them."""
import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from components.transform.preprocessing import preprocessing_fn
from contract.records import PIXELS_XF, raw_tfxio, to_sequence_example
from tests.conftest import RUNNER


def _three_rows(folder):
    images = [np.full((28, 28), v, np.uint8) for v in (10, 110, 210)]
    images[0][0, 0] = 0
    images[2][27, 27] = 250  # min 0 and max 250 overall: the analyzer, not a constant, sets the scale
    (folder / "Split-train").mkdir(parents=True)
    with tf.io.TFRecordWriter(str(folder / "Split-train" / "data.tfrecord")) as w:
        for i, img in enumerate(images):
            w.write(to_sequence_example(img, i + 4, f"t/train/{i:05d}"))


def _transform(tmp_path):
    _three_rows(tmp_path / "ex")
    source = raw_tfxio(str(tmp_path / "ex"), "train")
    with TestPipeline(runner=RUNNER) as p, tft_beam.Context(temp_dir=str(tmp_path / "tmp")):
        raw = p | source.BeamSource()
        (data, _), fn = ((raw, source.TensorAdapterConfig())
                         | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
        _ = fn | tft_beam.WriteTransformFn(str(tmp_path / "tf"))
        assert_that(data | beam.combiners.ToList(), _check_rows, label="CheckTransformedRows")


def _check_rows(rows):
    rows = sorted(rows[0], key=lambda r: r["label"])
    assert [r["label"] for r in rows] == [4, 5, 6]
    px = [np.asarray(r[PIXELS_XF]) for r in rows]
    assert all(p.shape == (784,) for p in px)
    assert px[0][0] == 0.0 and px[2][-1] == 1.0
    np.testing.assert_allclose(px[1][5], 110 / 250, rtol=1e-5)
    assert set(rows[0]) == {PIXELS_XF, "label", "image_id"}


def test_preprocessing_fn_on_three_rows(tmp_path):
    _transform(tmp_path)
    out = tft.TFTransformOutput(str(tmp_path / "tf"))
    assert out.transformed_feature_spec()[PIXELS_XF].shape == [784]


def test_wrong_step_count_is_rejected_by_the_graph(tmp_path):
    from tfx_bsl.tfxio.tensor_representation_util import CreateTfSequenceExampleParserConfig as cfg

    from contract.records import raw_schema
    _transform(tmp_path)
    layer = tft.TFTransformOutput(str(tmp_path / "tf")).transform_features_layer()
    _, seq_spec = cfg(raw_schema())
    ex = tf.train.SequenceExample()
    for _ in range(27):
        ex.feature_lists.feature_list["pixels"].feature.add().float_list.value.extend([0.0] * 28)
    short = ex.SerializeToString()
    _, seq, _ = tf.io.parse_sequence_example([short], sequence_features=seq_spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected exactly 28 steps"):
        layer({"pixels": seq["pixels"]})
