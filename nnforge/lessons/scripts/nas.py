# %% [markdown]
# # 8.1 神经架构搜索 — neural architecture search: letting a search design the network
#
# The first seed's section 8.1 names **neural architecture search** (神经架构搜索, "designing
# network structure automatically"). Until now a person chose the layers: how deep, how wide,
# which kernel, plain or residual blocks (7.1), which normalisation and activation. Architecture
# search treats those choices as a search space and trains candidates, like the hyperparameter
# search of chapter 4 — with one difference: there is no single best network. A bigger network is
# usually more accurate *and* more expensive, so the answer is a **Pareto front**: the networks no
# other candidate beats on both accuracy and size. Choosing from the front is then a decision
# about what you can afford (a phone, a server), made with the numbers in front of you.
#
# Here `nnforge tune digits_nas` searches convolutional networks for scikit-learn's 8x8 digits
# with Optuna's NSGA-II, a genetic algorithm that breeds new candidates from the non-dominated
# ones, under a budget of 40,000 parameters (a larger candidate is refused before it trains).

# %%
import tempfile
from pathlib import Path

from nnforge.config import read_yaml
from nnforge.lessons._common import heading, lesson_folder, save
from nnforge.rundir import recipe_path
from nnforge.tune.nas import front_figure, front_table, run_nas
from nnforge.tune.space import parse_tune

OUT = lesson_folder("nas")
WORK = Path(tempfile.mkdtemp(prefix="nnforge-nas-"))
TRIALS = 14

# %% [markdown]
# ## The search space
# Every key under `tune.space` is a recipe key of the `convnet` model: the list of channels is the
# depth and the widths at once.

# %%
raw = read_yaml(recipe_path("digits_nas"))
raw["train"]["epochs"] = 3  # each candidate trains 3 epochs here (the recipe: 4)
for key, choices in raw["tune"]["space"].items():
    print(f"{key:>22}: {choices['choices']}")
print(f"budget: {raw['tune']['budget']}; objectives: {raw['tune']['objectives']}")

# %% [markdown]
# ## The search
# Each line is one candidate: trained and scored on the validation split, refused for its size, or
# recognised as one trained already.

# %%
heading(f"NSGA-II over {TRIALS} candidates on the digits")
result = run_nas(raw, WORK / "study", TRIALS, storage=f"sqlite:///{WORK / 'nas.db'}", study_name="lesson")

# %% [markdown]
# ## The Pareto front
# Grey: every trained candidate. Red: the front. Moving right along it buys accuracy with
# parameters; the steps show where that purchase is worth it and where it is not.

# %%
spec = parse_tune(raw["tune"])
print(front_table(result.front, spec), end="")
trained = [r for r in result.trials if r["state"] == "complete" and r["same_as"] is None]
save(front_figure(trained, result.front, [r for r in result.trials if r["over_budget"]], spec), OUT, "nas_front.png")
cheapest, best = result.front[0], result.front[-1]
print(f"the smallest front member has {cheapest['cost']['params']:,.0f} parameters and {cheapest['metric']:.1%} validation accuracy; "
      f"the most accurate has {best['cost']['params']:,.0f} and {best['metric']:.1%}")
print("each front member is a ready recipe: nnforge train <study>/front/trial-NNN.yaml")
import shutil

shutil.rmtree(WORK, ignore_errors=True)

# %% [markdown]
# ## Try next
# - `nnforge tune digits_nas --trials 40`: more candidates fill in the front.
# - Search for speed instead of size: `--set 'tune.objectives=[val_accuracy, latency_ms]'` measures
#   each candidate's CPU latency per image (as `nnforge summary` does) and trades it against accuracy.
# - Tighten the budget (`--set tune.budget.params=5000`) and watch which architectures survive.
