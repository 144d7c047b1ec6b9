"""The model and how it is fed, shared by the steps that train it: the trainer (one model, exported) and the
tuner's trials (many short fits on Beam workers). One model builder and one input function, never two
copies: a component may import this package (tests/test_layers.py), as it imports contract/."""
