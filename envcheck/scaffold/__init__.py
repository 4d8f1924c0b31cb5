"""`envcheck scaffold`: plan a project from the host's facts and envcheck.compat, then write it atomically.

validate (inputs) -> facts (probes) -> decide (pure) -> plan (pure: {path: text}) -> write (atomic) -> gitinit;
verify builds the generated images. render is the only module that imports jinja2 (inside functions).
"""
