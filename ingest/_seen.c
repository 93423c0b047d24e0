/* ingest/_seen.c: the bit operations of the stored-id filter (ingest/seen.py).
 *
 * A bloom filter over stored (platform, event id) pairs. A pair's K bit positions come from one
 * xxHash64 (seed 0) of "<platform>\0<id>", the id being the UUID's UInt128 value in decimal: the same
 * bytes and the same hash as ClickHouse's xxHash64(concat(platform, char(0), toString(id128))), so the
 * filter can be filled from hashes the stored table gives (ingest/seen.py) and kept up to date here. Position i
 * of K is (low32 + i * high32) mod M of the hash (double hashing), M the bitmap's size in bits (a
 * multiple of 64); bit p is bit (p % 64) of the 64-bit word p / 64. Little-endian hosts only (x86-64,
 * arm64), as the bitmap is filled from ClickHouse's little-endian words.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- xxHash64 (seed 0), as in ClickHouse's xxHash64 ------------------------------------------- */

static const uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL,
                      P4 = 0x85EBCA77C2B2AE63ULL, P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t read64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; } /* little-endian hosts */
static inline uint32_t read32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t xx_round(uint64_t acc, uint64_t input) { return rotl64(acc + input * P2, 31) * P1; }
static inline uint64_t xx_merge(uint64_t acc, uint64_t val) { return (acc ^ xx_round(0, val)) * P1 + P4; }

static uint64_t xxh64(const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = (uint64_t)0 - P1;
        const uint8_t *limit = end - 32;
        do {
            v1 = xx_round(v1, read64(p));
            v2 = xx_round(v2, read64(p + 8));
            v3 = xx_round(v3, read64(p + 16));
            v4 = xx_round(v4, read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xx_merge(h, v1);
        h = xx_merge(h, v2);
        h = xx_merge(h, v3);
        h = xx_merge(h, v4);
    } else {
        h = P5;
    }
    h += (uint64_t)len;
    for (; p + 8 <= end; p += 8) h = rotl64(h ^ xx_round(0, read64(p)), 27) * P1 + P4;
    if (p + 4 <= end) {
        h = rotl64(h ^ ((uint64_t)read32(p) * P1), 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) h = rotl64(h ^ ((uint64_t)*p * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* ---- the filter ---------------------------------------------------------------------------------- */

#define MAX_KEY_BYTES 256 /* platform ids are at most 64 characters, a UInt128 at most 39 digits */

typedef struct {
    uint64_t *words;
    uint64_t m; /* bits */
    int k;
} filter;

/* The pair's hash; -1 (with an exception set) when it is not a (str, str) whose UTF-8 fits the buffer. */
static int pair_hash(PyObject *pair, uint64_t *out) {
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "a key must be a (platform, id) tuple");
        return -1;
    }
    Py_ssize_t platform_n, id_n;
    const char *platform = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &platform_n);
    if (platform == NULL) return -1;
    const char *id = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 1), &id_n);
    if (id == NULL) return -1;
    if (platform_n + 1 + id_n > MAX_KEY_BYTES) {
        PyErr_SetString(PyExc_ValueError, "a key is too long");
        return -1;
    }
    uint8_t buffer[MAX_KEY_BYTES];
    memcpy(buffer, platform, (size_t)platform_n);
    buffer[platform_n] = 0;
    memcpy(buffer + platform_n + 1, id, (size_t)id_n);
    *out = xxh64(buffer, (size_t)(platform_n + 1 + id_n));
    return 0;
}

static int open_filter(PyObject *bitmap, int k, Py_buffer *view, filter *f) {
    if (PyObject_GetBuffer(bitmap, view, PyBUF_WRITABLE) < 0) return -1;
    Py_ssize_t bytes = view->len;
    if (bytes < 8 || bytes % 8 != 0 || k < 1 || k > 16) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "the bitmap must be a positive multiple of 8 bytes and k 1 to 16");
        return -1;
    }
    f->words = (uint64_t *)view->buf;
    f->m = (uint64_t)bytes * 8;
    f->k = k;
    return 0;
}

static inline int test_or_set(filter *f, uint64_t h, int set) {
    uint64_t low = h & 0xFFFFFFFFULL, high = h >> 32;
    int all = 1;
    for (int i = 0; i < f->k; i++) {
        uint64_t p = (low + (uint64_t)i * high) % f->m;
        uint64_t bit = 1ULL << (p & 63);
        if (set)
            f->words[p >> 6] |= bit;
        else if (!(f->words[p >> 6] & bit)) {
            all = 0;
            break;
        }
    }
    return all;
}

/* Every (platform, id) of `keys`: with `set`, set its bits and return None; otherwise return the set of
 * those whose bits are all set (stored, or a false positive). */
static PyObject *each_pair(PyObject *args, int set, const char *format) {
    PyObject *bitmap, *keys;
    int k;
    if (!PyArg_ParseTuple(args, format, &bitmap, &k, &keys)) return NULL;
    Py_buffer view;
    filter f;
    if (open_filter(bitmap, k, &view, &f) < 0) return NULL;
    PyObject *found = set ? NULL : PySet_New(NULL), *it = NULL, *pair;
    if (!set && found == NULL) goto fail;
    it = PyObject_GetIter(keys);
    if (it == NULL) goto fail;
    while ((pair = PyIter_Next(it)) != NULL) {
        uint64_t h;
        int bad = pair_hash(pair, &h) || (test_or_set(&f, h, set) && !set && PySet_Add(found, pair) < 0);
        Py_DECREF(pair);
        if (bad) goto fail;
    }
    if (PyErr_Occurred()) goto fail;
    Py_DECREF(it);
    PyBuffer_Release(&view);
    if (set) Py_RETURN_NONE;
    return found;
fail:
    Py_XDECREF(it);
    Py_XDECREF(found);
    PyBuffer_Release(&view);
    return NULL;
}

static PyObject *add(PyObject *self, PyObject *args) { return each_pair(args, 1, "OiO:add"); }
static PyObject *maybe(PyObject *self, PyObject *args) { return each_pair(args, 0, "OiO:maybe"); }

/* add_hashes(bitmap, k, rows, stride): set the bits of pairs given by their hashes, the last 8 bytes
 * (UInt64, little-endian) of each `stride`-byte row, as ClickHouse's RowBinary gives
 * `SELECT id128, xxHash64(...)` (stride 24). */
static PyObject *add_hashes(PyObject *self, PyObject *args) {
    PyObject *bitmap;
    Py_buffer rows;
    int k;
    Py_ssize_t stride;
    if (!PyArg_ParseTuple(args, "Oiy*n:add_hashes", &bitmap, &k, &rows, &stride)) return NULL;
    Py_buffer view;
    filter f;
    if (open_filter(bitmap, k, &view, &f) < 0) {
        PyBuffer_Release(&rows);
        return NULL;
    }
    int ok = stride >= 8 && rows.len % stride == 0;
    const uint8_t *p = (const uint8_t *)rows.buf;
    for (Py_ssize_t at = 0; ok && at < rows.len; at += stride) test_or_set(&f, read64(p + at + stride - 8), 1);
    PyBuffer_Release(&view);
    PyBuffer_Release(&rows);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "add_hashes: not a whole number of rows of at least 8 bytes");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *hash(PyObject *self, PyObject *args) {
    const char *data;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y#:hash", &data, &n)) return NULL;
    return PyLong_FromUnsignedLongLong(xxh64((const uint8_t *)data, (size_t)n));
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "add(bitmap, k, keys): set the bits of each (platform, id) pair."},
    {"maybe", maybe, METH_VARARGS, "maybe(bitmap, k, keys) -> set: the pairs whose bits are all set."},
    {"add_hashes", add_hashes, METH_VARARGS, "add_hashes(bitmap, k, rows, stride): set the bits of hashed pairs."},
    {"hash", hash, METH_VARARGS, "hash(data) -> int: xxHash64 with seed 0 (for tests)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_seen", "The stored-id filter's bits (see ingest/seen.py).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__seen(void) { return PyModule_Create(&module); }
