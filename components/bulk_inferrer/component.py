"""BulkInferrer: `model` + `inference_data` (an IDX images file, an image folder, or raw TFRecords) ->
`predictions` (CSV and TFRecord rows, and the inputs that could not be read). `python -m pipeline predict`
runs it as a run of its own through the same runner, so it is recorded, and `lineage` leads from its
predictions to the model and the run that trained it. Never cached: a prediction run is asked for each time.
"""
from components.bulk_inferrer.section import PredictSection
from data.registry import dataset_info
from pipeline.spec import ComponentSpec

SPEC = ComponentSpec(
    name="bulk_inferrer",
    section=("predict", PredictSection),
    inputs=("model", "inference_data"),
    outputs=("predictions",),
    # the model must answer in the classes of the dataset it is told (data.dataset)
    params=lambda cfg: {"dataset": cfg.data.dataset, "class_names": dataset_info(cfg.data).class_names,
                        "batch_size": cfg.predict.batch_size, "dark_on_light": cfg.predict.dark_on_light},
    executor="components.bulk_inferrer.executor:run",
    cacheable=False,
    headline=lambda f: f"{f['predictions']} {f['input_kind']} inputs predicted, {f['malformed']} malformed",
    summarize=lambda f: {"predictions": f},
)
