"""The automation engine: kinds evaluate records, the pipeline logs runs and applies actions.

``kinds`` holds the interface every automation kind implements and the registry; ``types`` the
outcome and action values kinds return. The pipeline, the action executor and shadow mode live in
the modules beside them; a new workflow is a new kind, never a new pipeline.
"""
