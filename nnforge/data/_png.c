/* PNG scanline unfiltering in C, for nnforge/data/png.py.
 *
 * A PNG stores each row after one of five byte-wise predictions (none, left, up, average of
 * the two, Paeth). Undoing them is a loop over every byte with a dependency on the byte before,
 * which NumPy cannot vectorise and Python runs at a microsecond per byte; here it is one pass.
 * Only 8-bit samples: `channels` bytes per pixel. The caller (png.py) has inflated the data
 * with a bound on its size; this checks the size again and every filter byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t paeth(int left, int up, int up_left) {
    int p = left + up - up_left;
    int pa = abs(p - left), pb = abs(p - up), pc = abs(p - up_left);
    return (uint8_t)(pa <= pb && pa <= pc ? left : pb <= pc ? up : up_left);
}

static PyObject *unfilter(PyObject *self, PyObject *args) {
    Py_buffer raw;
    int height, width, channels;
    if (!PyArg_ParseTuple(args, "y*iii", &raw, &height, &width, &channels))
        return NULL;
    PyObject *result = NULL;
    if (height < 1 || width < 1 || channels < 1 || channels > 4) {
        PyErr_SetString(PyExc_ValueError, "unfilter: height and width must be positive, channels 1 to 4");
        goto done;
    }
    size_t row = (size_t)width * channels;
    if ((size_t)raw.len / (row + 1) != (size_t)height || (size_t)raw.len != (row + 1) * height) {
        PyErr_SetString(PyExc_ValueError, "unfilter: the data does not hold height rows of 1 + width x channels bytes");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(row * height));
    if (!result)
        goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *in = raw.buf;
    for (int y = 0; y < height; y++) {
        int kind = in[0];
        const uint8_t *line = in + 1;
        uint8_t *cur = out + (size_t)y * row;
        const uint8_t *prev = y > 0 ? cur - row : NULL; /* the first row sees zeros above */
        size_t i;
        switch (kind) {
        case 0:
            memcpy(cur, line, row);
            break;
        case 1:
            for (i = 0; i < row; i++)
                cur[i] = line[i] + (i >= (size_t)channels ? cur[i - channels] : 0);
            break;
        case 2:
            for (i = 0; i < row; i++)
                cur[i] = line[i] + (prev ? prev[i] : 0);
            break;
        case 3:
            for (i = 0; i < row; i++) {
                int left = i >= (size_t)channels ? cur[i - channels] : 0, up = prev ? prev[i] : 0;
                cur[i] = line[i] + (uint8_t)((left + up) >> 1);
            }
            break;
        case 4:
            for (i = 0; i < row; i++) {
                int left = i >= (size_t)channels ? cur[i - channels] : 0, up = prev ? prev[i] : 0;
                int up_left = prev && i >= (size_t)channels ? prev[i - channels] : 0;
                cur[i] = line[i] + paeth(left, up, up_left);
            }
            break;
        default:
            Py_CLEAR(result);
            PyErr_Format(PyExc_ValueError, "unfilter: row %d has filter type %d (0-4 exist)", y, kind);
            goto done;
        }
        in += row + 1;
    }
done:
    PyBuffer_Release(&raw);
    return result;
}

static PyMethodDef methods[] = {
    {"unfilter", unfilter, METH_VARARGS,
     "unfilter(data, height, width, channels) -> bytes: the pixels of inflated 8-bit PNG scanlines."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_png", NULL, -1, methods};

PyMODINIT_FUNC PyInit__png(void) { return PyModule_Create(&module); }
