import pytest

from nnforge.config import default_config, load_config
from nnforge.errors import ConfigError


def test_defaults_are_complete():
    cfg = default_config()
    assert cfg.engine == "torch" and cfg.data.name == "mnist-sample"
    assert cfg.model["name"] == "cnn" and cfg.model["channels"] == [32, 64]
    assert cfg.train.optimizer.name == "sgd" and cfg.train.loss.name == "cross_entropy"


def test_overrides_are_typed_by_yaml():
    cfg = load_config(None, ["train.epochs=3", "model.name=mlp", "model.hidden=[32, 16]", "train.optimizer.lr=1e-3"])
    assert cfg.train.epochs == 3 and cfg.model["hidden"] == [32, 16]
    assert cfg.train.optimizer.lr == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epoch=3", "unknown key 'train.epoch' (did you mean 'epochs'?)"),
        ("train.epochs=three", "'train.epochs' is 'three' (str); accepted: int >= 1"),
        ("train.epochs=0", "'train.epochs' is 0; accepted: int >= 1"),
        ("train.optimizer.name=adamm", "'train.optimizer.name' is 'adamm' (did you mean 'adam'?)"),
        ("engine=numpy", "accepted: one of torch, scratch"),
        ("model.name=lenet", "'model.name' is 'lenet'"),
        ("model.hiden=[3]", "unknown key 'model.hiden' for model 'cnn' (did you mean 'hidden'?)"),
        ("model.batch_norm=yes please", "'model.batch_norm'"),
        ("data.val_fraction=2", "'data.val_fraction' is 2; accepted"),
        ("train.optimizer.lr=.nan", "finite number"),
        ("train.optimizer.betas=[0.9]", "two numbers"),
        ("train.epochs", "--set expects key=value"),
        ("train.epochs.x=1", "'train.epochs' is {'x': 1} (dict); accepted: int"),
        # before: torch's manual_seed / set_num_threads overflowed (a traceback), 100,000 threads crashed the process
        ("seed=99999999999999999999999", "'seed' is 99999999999999999999999; accepted: int >= 0 and <= 9223372036854775807"),
        ("threads=100000", "'threads' is 100000; accepted: int >= 0 and <= 1024"),
        # before: fnmatch of a number was a TypeError when the model was built (init.skip: silently kept)
        ("train.freeze=[1]", "'train.freeze' is [1]; accepted: a list of parameter-name patterns (text)"),
        ("train.init.skip=[{a: 1}]", "'train.init.skip' is [{'a': 1}]; accepted: a list of parameter-name patterns"),
        # before: the last 'name' won silently; nesting hundreds deep was a RecursionError
        ("model={name: mlp, name: cnn}", "--set model={name: mlp, name: cnn}: key 'name' is given twice in one mapping"),
        ("tune.x=" + "[" * 2000, "nested too deeply to read"),
        # before: accepted, and the run trained for nothing (lr 0) or with every gradient clipped to 0
        ("train.optimizer.lr=0", "'train.optimizer.lr' is 0; accepted: int/float > 0.0"),
        ("train.gradients.clip_norm=0", "'train.gradients.clip_norm' is 0; accepted: int/float > 0.0 or null"),
        ("train.scheduler.max_lr=0.0", "'train.scheduler.max_lr' is 0.0; accepted"),
    ],
)
def test_bad_values_are_one_line_errors(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    text = str(info.value)
    assert message in text and "\n" not in text


def test_bad_yaml_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_a_key_given_twice_in_a_recipe_file_is_refused_with_both_lines(tmp_path):
    """PyYAML keeps the last of two equal keys silently: epochs 30 near the top and 3 added below trained 3."""
    recipe = tmp_path / "twice.yaml"
    recipe.write_text("data: {name: digits}\ntrain:\n  epochs: 30\n  optimizer: {lr: 0.1}\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 5: key 'epochs' is given twice in one mapping \(lines 3 and 5\)"):
        load_config(recipe)
    recipe.write_text("base: &b {epochs: 3}\ntrain:\n  <<: *b\n  epochs: 5\n")  # a merged key may be overridden
    from nnforge.config import read_yaml

    assert read_yaml(recipe)["train"] == {"epochs": 5}


@pytest.mark.parametrize("recursion_limit", [None, 20_000])
def test_a_recipe_nested_too_deeply_is_one_line(tmp_path, recursion_limit):
    """Whatever the interpreter's recursion limit (libraries in the same process raise it; then a
    RecursionError never came and the message depended on what was imported before)."""
    import sys

    recipe = tmp_path / "deep.yaml"
    recipe.write_text("tune: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n")
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(recursion_limit or before)
    try:
        with pytest.raises(ConfigError) as info:
            load_config(recipe)
    finally:
        sys.setrecursionlimit(before)
    assert str(info.value) == f"recipe '{recipe}': nested too deeply to read (more than 100 levels of [ or {{); a recipe needs a few"


def _laughs(levels: int) -> str:
    """A list whose aliases expand it to 9**levels items, in a few hundred bytes ("billion laughs")."""
    lists = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lists += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(lists) + "]"


@pytest.mark.parametrize("key", ["data.image_size", "train.loggers", "train.loss.class_weight"])
def test_aliases_that_expand_a_recipe_past_its_size_limit_are_one_line(tmp_path, key):
    """Before: accepted, or refused only after walking every expanded item: at 9 levels (9**9 items,
    a 1 KB recipe) a minute and gigabytes of memory, then MemoryError."""
    section, name = key.rsplit(".", 1)
    recipe = tmp_path / "laughs.yaml"
    recipe.write_text(f"{section}:\n  {name}: {_laughs(6)}\n".replace("train.loss:", "train:\n  loss:").replace("\n  class_weight", "\n    class_weight"))
    with pytest.raises(ConfigError, match="more than 100,000 values once its aliases"):
        load_config(recipe)
    with pytest.raises(ConfigError, match="more than 100,000 values once its aliases"):
        load_config(None, [f"{key}={_laughs(6)}"])


def test_an_alias_inside_its_own_anchor_is_one_line(tmp_path):
    """Before: the recursive list was frozen item by item: a RecursionError traceback."""
    recipe = tmp_path / "loop.yaml"
    recipe.write_text("data:\n  image_size: &a [*a]\n")
    with pytest.raises(ConfigError, match="alias inside its own anchor"):
        load_config(recipe)
    with pytest.raises(ConfigError, match="alias inside its own anchor"):
        load_config(None, ["data.image_size=&a [*a]"])


def test_packaged_recipes_are_valid():
    """Each packaged recipe loads and passes the checks a run makes before its folder exists (keys its
    engine and task implement, options whose feature is on, epochs longer than clean or warm-up ones)."""
    from nnforge.cli import RECIPES
    from nnforge.train.run import check

    recipes = sorted(RECIPES.glob("*.yaml"))
    assert {"quickstart", "mnist_mlp", "mnist_cnn", "digits_mlp", "cifar10_cnn"} <= {p.stem for p in recipes}
    for path in recipes:
        check(load_config(path))


def test_no_module_reads_a_resolved_recipe_with_a_fallback():
    """Sections of a resolved recipe have no .get: a renamed key fails loudly instead of falling back.
    The two open sections (model, tune) are mappings; nothing reads them with a default either."""
    import re
    from pathlib import Path

    recipe = load_config(None)
    for section in (recipe, recipe.data, recipe.data.augment, recipe.train, recipe.train.optimizer, recipe.forecast):
        assert not hasattr(section, "get") and not hasattr(section, "__getitem__")
    pattern = re.compile(r"\.(model|tune)\.get\(|\brecipe\.get\(|\bconfig\[\"|\brecipe\[\"")
    offenders = [f"{p}:{i}" for p in Path("nnforge").rglob("*.py") if p.name != "config.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders


@pytest.mark.parametrize("value, problem", [("9" * 5000, "Exceeds the limit"), ("2001-13-45", "month must be in 1..12")])
def test_a_scalar_yaml_types_but_python_cannot_build_is_one_line(tmp_path, value, problem):
    """Before: ValueError out of PyYAML's int/date constructors, a traceback, from --set and from a recipe."""
    with pytest.raises(ConfigError, match=f"--set seed=.*a value cannot be read .{problem}"):
        load_config(None, [f"seed={value}"])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"seed: {value}\n")
    with pytest.raises(ConfigError, match=f"recipe '{recipe}': a value cannot be read .{problem}"):
        load_config(recipe)


@pytest.mark.parametrize("key", ["train.max_time", "train.epochs", "train.optimizer.lr", "data.batch_size"])
def test_an_int_past_a_floats_range_is_one_line(key):
    """Before: accepted, then an OverflowError where it first met a float (resolving max_time, the
    learning-rate schedule's first epoch, the optimizer's first step)."""
    with pytest.raises(ConfigError, match=f"'{key}' is 1000.*within a float's range"):
        load_config(None, [f"{key}=1{'0' * 400}"])


@pytest.mark.parametrize("setting", ["train.epochs=", "model.name=", "model.hidden=", "train.max_time=", "tune="])
def test_a_huge_value_is_named_in_a_short_message(setting):
    """Before: the whole 100,000-character value was printed back in the one-line error."""
    with pytest.raises(ConfigError) as caught:
        load_config(None, [setting + "x" * 100_000])
    assert len(str(caught.value)) < 600 and "xxx..." in str(caught.value)


def test_a_section_given_as_its_name_says_which_key_was_meant(tmp_path):
    """``scheduler: cosine`` (Keras passes optimizers and schedules by name) is a mapping in a recipe."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train:\n  scheduler: cosine\n")
    with pytest.raises(ConfigError) as exc:
        load_config(recipe)
    assert str(exc.value) == ("'train.scheduler' must be a mapping of keys (name, step_size, gamma, max_lr, pct_start, min_lr, "
                              "patience, warmup_epochs), got 'cosine'; did you mean 'train.scheduler.name: cosine'?")
    with pytest.raises(ConfigError, match=r"did you mean 'train.optimizer.name: adam'\?$"):
        load_config(None, ["train.optimizer=adam"])
    with pytest.raises(ConfigError, match=r"\(patience, min_delta, restore_best\), got 3$"):  # no name key to suggest
        load_config(None, ["train.early_stopping=3"])


@pytest.mark.parametrize("override, meant", [
    ("epochs=3", "'train.epochs'"),
    ("lr=0.1", "'train.optimizer.lr' or 'train.swa.lr'"),
    ("train.optimizer.clip_norm=1", "'train.gradients.clip_norm'"),
    ("patience=2", "'train.scheduler.patience' or 'train.early_stopping.patience'"),
])
def test_a_key_set_in_the_wrong_section_names_where_it_lives(override, meant):
    with pytest.raises(ConfigError, match=rf"^unknown key '{override.split('=')[0]}' \(did you mean {meant}\?\); valid keys here: "):
        load_config(None, [override])
