/* ingest/_fast.c: the NDJSON fast path of the ingestion pipeline.
 *
 * scan() takes the lines of one NDJSON request and, for every line in the common, unambiguous form,
 * does what the Python steps do (validate, check_platform, check_month, pseudonymise) and returns the
 * stored row. A line is taken only when every field is certainly valid; anything else (escapes,
 * non-ASCII text, numbers written as -0 or 1e3, nulls for required fields, unusual timestamp forms, an
 * unknown or foreign platform, a sealed month, a missing key...) returns None and goes to the Python
 * steps, which decide and explain it. So the C code never rejects a row: it can only be slower, not
 * different. tests/test_ingest_fastpath.py checks it row for row against the Python steps.
 *
 * Stored row: (platform, id, line) where `id` is the event id's UInt128 value in decimal (a piece of the
 * writer's lookup literal) and `line` the JSONCompactEachRow form of the events_ingest columns, byte for
 * byte what ingest.write.StoredEvent.row() gives.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- BLAKE2b, RFC 7693 ------------------------------------------------------------------------- */

static const uint64_t B2B_IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL};

static const uint8_t B2B_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2B_G(a, b, c, d, x, y)          \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = ROTR64(v[d] ^ v[a], 32);  \
        v[c] = v[c] + v[d];              \
        v[b] = ROTR64(v[b] ^ v[c], 24);  \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = ROTR64(v[d] ^ v[a], 16);  \
        v[c] = v[c] + v[d];              \
        v[b] = ROTR64(v[b] ^ v[c], 63);  \
    } while (0)

typedef struct {
    uint64_t h[8];
    uint64_t t; /* bytes compressed so far; inputs here are far below 2**64 */
} b2b_state;

static uint64_t load64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void b2b_compress(b2b_state *s, const uint8_t block[128], int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = B2B_IV[i];
    }
    v[12] ^= s->t;
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    for (int r = 0; r < 12; r++) {
        const uint8_t *z = B2B_SIGMA[r];
        B2B_G(0, 4, 8, 12, m[z[0]], m[z[1]]);
        B2B_G(1, 5, 9, 13, m[z[2]], m[z[3]]);
        B2B_G(2, 6, 10, 14, m[z[4]], m[z[5]]);
        B2B_G(3, 7, 11, 15, m[z[6]], m[z[7]]);
        B2B_G(0, 5, 10, 15, m[z[8]], m[z[9]]);
        B2B_G(1, 6, 11, 12, m[z[10]], m[z[11]]);
        B2B_G(2, 7, 8, 13, m[z[12]], m[z[13]]);
        B2B_G(3, 4, 9, 14, m[z[14]], m[z[15]]);
    }
    for (int i = 0; i < 8; i++) s->h[i] ^= v[i] ^ v[i + 8];
}

#define PSEUDONYM_BYTES 16
#define KEY_BYTES 32
#define MAX_USER_BYTES 128

/* The state after the key block: keyed BLAKE2b compresses the zero-padded key as its first block, and
 * a user id (1 to 128 bytes) is always exactly one more block, so one compression per user remains. */
static void b2b_keyed(b2b_state *s, const uint8_t key[KEY_BYTES]) {
    uint8_t block[128] = {0};
    for (int i = 0; i < 8; i++) s->h[i] = B2B_IV[i];
    s->h[0] ^= 0x01010000ULL ^ ((uint64_t)KEY_BYTES << 8) ^ PSEUDONYM_BYTES;
    memcpy(block, key, KEY_BYTES);
    s->t = 128;
    b2b_compress(s, block, 0);
}

static void b2b_pseudonym(const b2b_state *keyed, const char *user, Py_ssize_t n, char hex[2 * PSEUDONYM_BYTES]) {
    static const char digits[] = "0123456789abcdef";
    uint8_t block[128] = {0};
    b2b_state s = *keyed;
    memcpy(block, user, (size_t)n);
    s.t += (uint64_t)n;
    b2b_compress(&s, block, 1);
    for (int i = 0; i < PSEUDONYM_BYTES; i++) {
        uint8_t byte = (uint8_t)(s.h[i / 8] >> (8 * (i % 8)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
}

/* ---- calendar ---------------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d) { /* H. Hinnant's algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* ---- one line ---------------------------------------------------------------------------------- */

enum { F_EVENT_ID, F_PLATFORM, F_USER, F_TYPE, F_TS, F_DURATION, F_BYTES, F_COUNTRY, F_PROVINCE, F_OS, F_COUNT };
static const char *FIELD_NAMES[F_COUNT] = {"event_id", "platform", "user",    "type",     "ts",
                                           "duration_s", "bytes",  "country", "province", "os"};
enum { V_ABSENT, V_NULL, V_STRING, V_INT };

typedef struct {
    int kind;
    const char *s;
    Py_ssize_t n;
    int64_t i;
} value;

#define MAX_INT_DIGITS 13 /* 10**12, the largest `bytes`, has 13 digits */
#define MAX_DURATION_S 86400
#define MAX_BYTES 1000000000000LL

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static int field_of(const char *s, Py_ssize_t n) {
    for (int f = 0; f < F_COUNT; f++)
        if ((Py_ssize_t)strlen(FIELD_NAMES[f]) == n && memcmp(FIELD_NAMES[f], s, (size_t)n) == 0) return f;
    return -1;
}

/* A JSON string without escapes, control characters or non-ASCII bytes; returns the index after its
 * closing quote, or -1. `i` is the index of the opening quote. */
static Py_ssize_t plain_string(const char *s, Py_ssize_t n, Py_ssize_t i, value *out) {
    Py_ssize_t start = ++i;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            out->kind = V_STRING;
            out->s = s + start;
            out->n = i - start;
            return i + 1;
        }
        if (c == '\\' || c < 0x20 || c >= 0x80) return -1;
    }
    return -1;
}

/* Parses one flat object of known fields; 0 when the line is in the plain form, -1 otherwise. */
static int parse_object(const char *s, Py_ssize_t n, value fields[F_COUNT]) {
    Py_ssize_t i = 0;
    for (int f = 0; f < F_COUNT; f++) fields[f].kind = V_ABSENT;
    while (i < n && is_ws(s[i])) i++;
    if (i >= n || s[i] != '{') return -1;
    i++;
    for (;;) {
        value key;
        while (i < n && is_ws(s[i])) i++;
        if (i >= n || s[i] != '"') return -1;
        i = plain_string(s, n, i, &key);
        if (i < 0) return -1;
        int f = field_of(key.s, key.n);
        if (f < 0 || fields[f].kind != V_ABSENT) return -1; /* unknown or repeated field */
        while (i < n && is_ws(s[i])) i++;
        if (i >= n || s[i] != ':') return -1;
        i++;
        while (i < n && is_ws(s[i])) i++;
        if (i >= n) return -1;
        if (s[i] == '"') {
            i = plain_string(s, n, i, &fields[f]);
            if (i < 0) return -1;
        } else if (s[i] >= '0' && s[i] <= '9') {
            int64_t v = 0;
            Py_ssize_t start = i;
            if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') return -1;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (i - start >= MAX_INT_DIGITS) return -1;
                v = v * 10 + (s[i] - '0');
                i++;
            }
            fields[f].kind = V_INT;
            fields[f].i = v;
        } else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) {
            fields[f].kind = V_NULL;
            i += 4;
        } else {
            return -1;
        }
        while (i < n && is_ws(s[i])) i++;
        if (i >= n) return -1;
        if (s[i] == ',') {
            i++;
            continue;
        }
        if (s[i] != '}') return -1;
        i++;
        break;
    }
    while (i < n && is_ws(s[i])) i++;
    return i == n ? 0 : -1;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9') return -1;
        v = v * 10 + (s[k] - '0');
    }
    *out = v;
    return 0;
}

/* YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM) to microseconds since 1970-01-01 UTC; -1 otherwise.
 * Fractions past microseconds are dropped, as the Python step does. */
static int parse_ts(const char *s, Py_ssize_t n, int64_t *us) {
    int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, sign = 0;
    Py_ssize_t i = 19;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
        digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59) return -1;
    if (s[i] == '.') {
        int scale = 100000, count = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, count++) {
            if (count < 6) {
                frac += (s[i] - '0') * scale;
                scale /= 10;
            }
        }
        if (count < 1 || count > 9) return -1;
    }
    if (i == n - 1 && s[i] == 'Z') {
        sign = 0;
    } else if (i == n - 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59) return -1;
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return -1;
    }
    int64_t seconds = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
    *us = seconds * 1000000 + frac;
    return 0;
}

/* ---- keys -------------------------------------------------------------------------------------- */

#define KEY_SLOTS 64

typedef struct {
    PyObject *platform; /* borrowed from the platforms dict */
    int64_t month;      /* year * 12 + month - 1 */
    int ok;
    b2b_state keyed;
} key_slot;

typedef struct {
    key_slot slots[KEY_SLOTS];
    int used, next_victim; /* once all slots are used, they are reused in turn */
    PyObject *key_for;
} key_cache;

/* The keyed state for (platform, month), asking key_for(platform, month) once per scan; NULL when
 * there is no key to use (the Python steps then decide the row). */
static const b2b_state *key_state(key_cache *cache, PyObject *platform, int64_t month) {
    for (int k = 0; k < cache->used; k++)
        if (cache->slots[k].platform == platform && cache->slots[k].month == month)
            return cache->slots[k].ok ? &cache->slots[k].keyed : NULL;
    key_slot *slot;
    if (cache->used < KEY_SLOTS) {
        slot = &cache->slots[cache->used++];
    } else {
        slot = &cache->slots[cache->next_victim];
        cache->next_victim = (cache->next_victim + 1) % KEY_SLOTS;
    }
    slot->platform = platform;
    slot->month = month;
    slot->ok = 0;
    PyObject *key = PyObject_CallFunction(cache->key_for, "OL", platform, (long long)month);
    if (key == NULL) {
        PyErr_Clear(); /* the Python step meets the same problem and reports it */
        return NULL;
    }
    if (PyBytes_Check(key) && PyBytes_GET_SIZE(key) == KEY_BYTES) {
        b2b_keyed(&slot->keyed, (const uint8_t *)PyBytes_AS_STRING(key));
        slot->ok = 1;
    }
    Py_DECREF(key);
    return slot->ok ? &slot->keyed : NULL;
}

/* ---- the scan ---------------------------------------------------------------------------------- */

typedef struct {
    PyObject *platforms; /* dict: the vendor's platform ids, each mapped to itself */
    PyObject *countries; /* container of ISO 3166-1 alpha-2 codes */
    PyObject *provinces; /* container of ISO 3166-2:VN codes */
    int64_t open_from;   /* first month (year * 12 + month - 1) that is not sealed */
    int64_t min_us, max_us;
    const int64_t *zone; /* [end_s, start_0, offset_0, start_1, offset_1, ...] */
    Py_ssize_t zone_segments;
    key_cache keys;
} scan_context;

static int contains_text(PyObject *container, const char *s, Py_ssize_t n) {
    PyObject *text = PyUnicode_DecodeASCII(s, n, NULL);
    if (text == NULL) {
        PyErr_Clear();
        return 0;
    }
    int found = PySequence_Contains(container, text);
    Py_DECREF(text);
    if (found < 0) {
        PyErr_Clear();
        return 0;
    }
    return found;
}

static int equals(const value *v, const char *text) {
    return v->kind == V_STRING && v->n == (Py_ssize_t)strlen(text) && memcmp(v->s, text, (size_t)v->n) == 0;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The local day (days since 1970-01-01) of an instant in the service time zone; -1 outside the table. */
static int64_t local_day(const scan_context *ctx, int64_t us) {
    int64_t seconds = us / 1000000;
    if (ctx->zone_segments < 1 || seconds < ctx->zone[1] || seconds >= ctx->zone[0]) return -1;
    Py_ssize_t lo = 0, hi = ctx->zone_segments - 1;
    while (lo < hi) { /* the last segment starting at or before `seconds` */
        Py_ssize_t mid = (lo + hi + 1) / 2;
        if (ctx->zone[1 + 2 * mid] <= seconds)
            lo = mid;
        else
            hi = mid - 1;
    }
    int64_t local_us = us + ctx->zone[2 + 2 * lo] * 1000000;
    return local_us / 86400000000LL;
}

#define LINE_CAPACITY 512
#define MAX_SHORT_TEXT 64

/* The stored line is assembled by hand: with snprintf a 1,000-line scan took 1.27 ms, now 1.04 ms. */
typedef struct {
    char s[LINE_CAPACITY];
    Py_ssize_t n; /* bytes wanted so far; more than LINE_CAPACITY means the line did not fit */
} out_buffer;

static void put(out_buffer *out, const char *s, Py_ssize_t n) {
    if (out->n + n <= LINE_CAPACITY) memcpy(out->s + out->n, s, (size_t)n);
    out->n += n;
}

static void put_int(out_buffer *out, int64_t v) {
    char digits[24];
    int k = (int)sizeof digits;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) digits[--k] = '-';
    put(out, digits + k, (Py_ssize_t)sizeof digits - k);
}

/* The stored row for one line, or None when the Python steps must decide it; NULL only on MemoryError. */
static PyObject *scan_line(scan_context *ctx, const char *s, Py_ssize_t n) {
    value f[F_COUNT];
    if (parse_object(s, n, f) < 0) Py_RETURN_NONE;

    /* event_id: a UUID, lower-cased; id128 is its integer */
    const value *id = &f[F_EVENT_ID];
    if (id->kind != V_STRING || id->n != 36) Py_RETURN_NONE;
    char event_id[37];
    unsigned __int128 id128 = 0;
    for (int k = 0; k < 36; k++) {
        char c = id->s[k];
        if (k == 8 || k == 13 || k == 18 || k == 23) {
            if (c != '-') Py_RETURN_NONE;
            event_id[k] = '-';
            continue;
        }
        int digit = hex_value(c);
        if (digit < 0) Py_RETURN_NONE;
        event_id[k] = "0123456789abcdef"[digit];
        id128 = id128 << 4 | (unsigned)digit;
    }
    event_id[36] = '\0';

    /* platform: one of the vendor's own */
    const value *pv = &f[F_PLATFORM];
    if (pv->kind != V_STRING || pv->n < 1 || pv->n > MAX_SHORT_TEXT) Py_RETURN_NONE;
    PyObject *platform_text = PyUnicode_DecodeASCII(pv->s, pv->n, NULL);
    if (platform_text == NULL) return NULL;
    PyObject *platform = PyDict_GetItemWithError(ctx->platforms, platform_text); /* borrowed */
    Py_DECREF(platform_text);
    if (platform == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }

    const value *user = &f[F_USER];
    if (user->kind != V_STRING || user->n < 1 || user->n > MAX_USER_BYTES) Py_RETURN_NONE;

    const char *type;
    if (f[F_TYPE].kind == V_ABSENT || f[F_TYPE].kind == V_NULL || equals(&f[F_TYPE], "session"))
        type = "session";
    else if (equals(&f[F_TYPE], "install"))
        type = "install";
    else
        Py_RETURN_NONE;

    int64_t us;
    if (f[F_TS].kind != V_STRING || parse_ts(f[F_TS].s, f[F_TS].n, &us) < 0) Py_RETURN_NONE;
    if (us < ctx->min_us || us > ctx->max_us) Py_RETURN_NONE;

    int64_t duration = 0, size = 0;
    if (f[F_DURATION].kind == V_INT)
        duration = f[F_DURATION].i;
    else if (f[F_DURATION].kind != V_ABSENT && f[F_DURATION].kind != V_NULL)
        Py_RETURN_NONE;
    if (f[F_BYTES].kind == V_INT)
        size = f[F_BYTES].i;
    else if (f[F_BYTES].kind != V_ABSENT && f[F_BYTES].kind != V_NULL)
        Py_RETURN_NONE;
    if (duration > MAX_DURATION_S || size > MAX_BYTES) Py_RETURN_NONE;

    const char *country = "VN";
    Py_ssize_t country_n = 2;
    if (f[F_COUNTRY].kind == V_STRING) {
        if (f[F_COUNTRY].n != 2 || !contains_text(ctx->countries, f[F_COUNTRY].s, 2)) Py_RETURN_NONE;
        country = f[F_COUNTRY].s;
    } else if (f[F_COUNTRY].kind != V_ABSENT && f[F_COUNTRY].kind != V_NULL) {
        Py_RETURN_NONE;
    }

    const char *province = "";
    Py_ssize_t province_n = 0;
    if (f[F_PROVINCE].kind == V_STRING) {
        if (f[F_PROVINCE].n > MAX_SHORT_TEXT || memcmp(country, "VN", 2) != 0 ||
            !contains_text(ctx->provinces, f[F_PROVINCE].s, f[F_PROVINCE].n))
            Py_RETURN_NONE;
        province = f[F_PROVINCE].s;
        province_n = f[F_PROVINCE].n;
    } else if (f[F_PROVINCE].kind != V_ABSENT && f[F_PROVINCE].kind != V_NULL) {
        Py_RETURN_NONE;
    }

    const char *os = "";
    if (f[F_OS].kind == V_STRING) {
        if (equals(&f[F_OS], "android"))
            os = "android";
        else if (equals(&f[F_OS], "ios"))
            os = "ios";
        else if (equals(&f[F_OS], "web"))
            os = "web";
        else if (equals(&f[F_OS], "other"))
            os = "other";
        else
            Py_RETURN_NONE;
    } else if (f[F_OS].kind != V_ABSENT && f[F_OS].kind != V_NULL) {
        Py_RETURN_NONE;
    }

    /* check_month and pseudonymise */
    int64_t day = local_day(ctx, us);
    if (day < 0) Py_RETURN_NONE;
    int64_t year;
    int month;
    civil_from_days(day, &year, &month);
    int64_t month_index = year * 12 + month - 1;
    if (month_index < ctx->open_from) Py_RETURN_NONE;
    const b2b_state *keyed = key_state(&ctx->keys, platform, month_index);
    if (keyed == NULL) Py_RETURN_NONE;
    char pseudo[2 * PSEUDONYM_BYTES + 1];
    b2b_pseudonym(keyed, user->s, user->n, pseudo);
    pseudo[2 * PSEUDONYM_BYTES] = '\0';

    /* ts_ms is floor(us / 1000); us is positive here (ts >= 2000-01-01) */
    out_buffer out = {.n = 0};
    put(&out, "[\"", 2); put(&out, pv->s, pv->n); put(&out, "\",\"", 3); put(&out, event_id, 36);
    put(&out, "\",\"", 3); put(&out, pseudo, 2 * PSEUDONYM_BYTES); put(&out, "\",\"", 3);
    put(&out, type, (Py_ssize_t)strlen(type)); put(&out, "\",", 2); put_int(&out, us / 1000); put(&out, ",", 1);
    put_int(&out, day); put(&out, ",", 1); put_int(&out, duration); put(&out, ",", 1); put_int(&out, size);
    put(&out, ",\"", 2); put(&out, country, country_n); put(&out, "\",\"", 3); put(&out, province, province_n);
    put(&out, "\",\"", 3); put(&out, os, (Py_ssize_t)strlen(os)); put(&out, "\"]", 2);
    if (out.n > LINE_CAPACITY) Py_RETURN_NONE;
    const char *line = out.s;
    Py_ssize_t written = out.n;

    char decimal[40]; /* 2^128 - 1 has 39 digits */
    int d = (int)sizeof decimal;
    do {
        decimal[--d] = (char)('0' + (int)(id128 % 10));
        id128 /= 10;
    } while (id128 != 0);
    PyObject *id_text = PyUnicode_DecodeASCII(decimal + d, (Py_ssize_t)sizeof decimal - d, NULL);
    if (id_text == NULL) return NULL;
    PyObject *bytes = PyBytes_FromStringAndSize(line, written);
    if (bytes == NULL) {
        Py_DECREF(id_text);
        return NULL;
    }
    PyObject *row = PyTuple_New(3);
    if (row == NULL) {
        Py_DECREF(id_text);
        Py_DECREF(bytes);
        return NULL;
    }
    Py_INCREF(platform);
    PyTuple_SET_ITEM(row, 0, platform);
    PyTuple_SET_ITEM(row, 1, id_text);
    PyTuple_SET_ITEM(row, 2, bytes);
    return row;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *lines, *platforms, *countries, *provinces, *key_for;
    long long open_from, min_us, max_us;
    Py_buffer zone;
    if (!PyArg_ParseTuple(args, "O!O!OOLLLy*O:scan", &PyList_Type, &lines, &PyDict_Type, &platforms, &countries,
                          &provinces, &open_from, &min_us, &max_us, &zone, &key_for))
        return NULL;
    scan_context *ctx = PyMem_Calloc(1, sizeof(scan_context));
    if (ctx == NULL) {
        PyBuffer_Release(&zone);
        return PyErr_NoMemory();
    }
    ctx->platforms = platforms;
    ctx->countries = countries;
    ctx->provinces = provinces;
    ctx->open_from = open_from;
    ctx->min_us = min_us;
    ctx->max_us = max_us;
    ctx->zone = (const int64_t *)zone.buf;
    ctx->zone_segments = zone.len >= (Py_ssize_t)sizeof(int64_t) && zone.len % (Py_ssize_t)sizeof(int64_t) == 0
                             ? (zone.len / (Py_ssize_t)sizeof(int64_t) - 1) / 2
                             : 0;
    ctx->keys.key_for = key_for;

    Py_ssize_t count = PyList_GET_SIZE(lines);
    PyObject *out = PyList_New(count);
    for (Py_ssize_t k = 0; out != NULL && k < count; k++) {
        PyObject *line = PyList_GET_ITEM(lines, k);
        PyObject *row;
        if (PyBytes_Check(line)) {
            row = scan_line(ctx, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line));
        } else {
            row = Py_None;
            Py_INCREF(row);
        }
        if (row == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, k, row);
    }
    PyMem_Free(ctx);
    PyBuffer_Release(&zone);
    return out;
}

static PyObject *pseudonym(PyObject *self, PyObject *args) {
    const char *user, *key;
    Py_ssize_t user_n, key_n;
    if (!PyArg_ParseTuple(args, "y#y#:pseudonym", &user, &user_n, &key, &key_n)) return NULL;
    if (key_n != KEY_BYTES || user_n < 1 || user_n > MAX_USER_BYTES) {
        PyErr_SetString(PyExc_ValueError, "pseudonym: the key must be 32 bytes and the user 1 to 128 bytes");
        return NULL;
    }
    b2b_state keyed;
    char hex[2 * PSEUDONYM_BYTES];
    b2b_keyed(&keyed, (const uint8_t *)key);
    b2b_pseudonym(&keyed, user, user_n, hex);
    return PyUnicode_FromStringAndSize(hex, sizeof hex);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(lines, platforms, countries, provinces, open_from, min_us, max_us, zone, key_for) -> list\n\n"
     "The stored row (platform, id, line) of each line in the plain form, None for the others."},
    {"pseudonym", pseudonym, METH_VARARGS, "pseudonym(user, key) -> str: keyed BLAKE2b-128, hex (for tests)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast", "The NDJSON fast path (see ingest/fastpath.py).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
