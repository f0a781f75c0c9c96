"""The training job: read journeys, replay them through the shared reducer, fit, evaluate, register."""
