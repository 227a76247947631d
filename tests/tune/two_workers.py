"""`nnforge tune` as one of two workers of a shared study (run as a script by the two-worker tests).

Its first trial waits, on the study's storage, until the other worker holds a trial too: under load,
one worker could finish every trial before the other started, and "both workers did work" failed by
chance. Each worker still asks the database for its trials: what the tests prove is unchanged.
"""

import sys
import time

import optuna

import nnforge.train
from nnforge.cli import main

real, waited = nnforge.train.run, []


def run(config, run_dir, **kwargs):
    if not waited:
        waited.append(True)
        storage, name = (sys.argv[sys.argv.index(option) + 1] for option in ("--storage", "--study"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
            if len({t.user_attrs.get("worker") for t in trials} - {None}) == 2:
                break
            time.sleep(0.2)
    return real(config, run_dir, **kwargs)


if __name__ == "__main__":
    nnforge.train.run = run
    sys.exit(main(sys.argv[1:]))
