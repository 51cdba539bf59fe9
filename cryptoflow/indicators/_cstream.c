/* The streaming engine's state and step, compiled: the base type of StreamingIndicators (_streaming.py).
 *
 * One closed candle costs one C method call: the candle's prices are read, every indicator is computed and
 * the result dict is built here, with no Python frame in between. Each formula performs the same
 * floating-point operations, in the same order, as the batch engine's kernels (_kernels.py), so the two
 * engines agree to the last bit (the tests check it); the build turns off FMA contraction for that reason.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <structmember.h>

/* Set once by configure(): the result keys (INDICATOR_NAMES), the Candle class, and two Python callables
 * for the rare paths: prices(mapping) -> 4 floats (raises DataError), nan_error(candle) -> DataError.
 * Each result starts as a copy of result_template (the keys, in order, mapped to None): copying a small
 * dict clones its table in one go, where inserting seven keys into a new dict would resize it on the way,
 * and that was a third of the step's time. */
static PyObject *result_keys[7];
static PyObject *result_template;
static PyObject *candle_type;
static PyObject *prices_of;
static PyObject *nan_error;
static PyObject *attr_names[4];

typedef struct {
    PyObject_HEAD
    /* parameters */
    Py_ssize_t rsi_period, cci_period;
    int rsi_sma, adjust;
    double rsi_alpha, rsi_factor, fast_alpha, slow_alpha, signal_alpha, cci_constant;
    long long fast_min, slow_min, signal_min;
    /* running state */
    long long count, macd_count;
    double prev_open, prev_close, rsi_up, rsi_down;
    double fast, fast_wt, slow, slow_wt, signal, signal_wt;
    /* windows: ring buffers of the last rsi_period gains and losses and cci_period typical prices */
    Py_ssize_t rsi_head, cci_head;
    double *gains, *losses, *typicals;
} State;

/* _kernels.ema_step */
static inline void ema_step(double x, int first, double *value, double *old_wt, double alpha, int adjust) {
    if (first) {
        *value = x;
        *old_wt = 1.0;
        return;
    }
    double new_wt = adjust ? 1.0 : alpha;
    double wt = *old_wt * (1.0 - alpha);
    double v = *value;
    if (v != x) {
        v = (wt * v + new_wt * x) / (wt + new_wt);
    }
    *value = v;
    *old_wt = adjust ? wt + new_wt : 1.0;
}

/* _kernels.wilder_step */
static inline double wilder_step(double average, double x, double alpha, double factor) {
    if (average != x) {
        average = (factor * average + alpha * x) / (factor + alpha);
    }
    return average;
}

/* Sum of the last period - 1 stored values and newest, oldest first (the batch kernels' order). */
static inline double window_sum(const double *ring, Py_ssize_t period, Py_ssize_t head, double newest) {
    double total = 0.0;
    Py_ssize_t i = head;
    for (Py_ssize_t n = 1; n < period; n++) {
        i = i + 1 < period ? i + 1 : 0;
        total += ring[i];
    }
    return total + newest;
}

/* _kernels.engulfing_of */
static inline long engulfing_of(double prev_open, double prev_close, double open, double close) {
    if (close > open && prev_close < prev_open && prev_close >= open && prev_open <= close) {
        return 1;
    }
    if (close < open && prev_close > prev_open && prev_close <= open && prev_open >= close) {
        return -1;
    }
    return 0;
}

static int read_prices(PyObject *candle, double *prices) {
    if (PyObject_TypeCheck(candle, (PyTypeObject *)candle_type)) {
        for (int i = 0; i < 4; i++) {
            PyObject *value = PyObject_GetAttr(candle, attr_names[i]);
            if (value == NULL) {
                return -1;
            }
            prices[i] = PyFloat_AsDouble(value);
            Py_DECREF(value);
            if (prices[i] == -1.0 && PyErr_Occurred()) {
                return -1;
            }
        }
        return 0;
    }
    PyObject *values = PyObject_CallOneArg(prices_of, candle);
    if (values == NULL) {
        return -1;
    }
    int ok = PyArg_ParseTuple(values, "dddd", &prices[0], &prices[1], &prices[2], &prices[3]);
    Py_DECREF(values);
    return ok ? 0 : -1;
}

/* result[key] = number, taking the reference to number; 0, or -1 with an exception set. */
static int set_value(PyObject *result, int key, PyObject *number) {
    if (number == NULL) {
        return -1;
    }
    int status = PyDict_SetItem(result, result_keys[key], number);
    Py_DECREF(number);
    return status;
}

static PyObject *step(State *s, PyObject *candle, int commit) {
    if (candle_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cryptoflow.indicators._cstream is not configured");
        return NULL;
    }
    if (s->gains == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the streaming state was not initialised");
        return NULL;
    }
    double p[4];
    if (read_prices(candle, p) < 0) {
        return NULL;
    }
    double o = p[0], h = p[1], low = p[2], c = p[3];
    if (isnan(o) || isnan(h) || isnan(low) || isnan(c)) {
        PyObject *error = PyObject_CallOneArg(nan_error, candle);
        if (error != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(error), error);
            Py_DECREF(error);
        }
        return NULL;
    }
    long long count = s->count + 1;
    int first = count == 1;

    /* RSI */
    double gain = 0.0, loss = 0.0;
    if (!first) {
        double delta = c - s->prev_close;
        gain = delta > 0 ? delta : 0.0;
        loss = delta < 0 ? -delta : 0.0;
    }
    double up = s->rsi_up, down = s->rsi_down, rsi = Py_NAN;
    if (s->rsi_sma) {
        if (count > s->rsi_period) {
            double period = (double)s->rsi_period;
            double mean_gain = window_sum(s->gains, s->rsi_period, s->rsi_head, gain) / period;
            double mean_loss = window_sum(s->losses, s->rsi_period, s->rsi_head, loss) / period;
            if (mean_loss == 0.0) { /* _kernels.rsi_from_means */
                rsi = mean_gain == 0.0 ? Py_NAN : 100.0;
            } else {
                rsi = 100.0 - 100.0 / (1.0 + mean_gain / mean_loss);
            }
        }
    } else {
        if (!first) {
            up = wilder_step(up, gain, s->rsi_alpha, s->rsi_factor);
            down = wilder_step(down, loss, s->rsi_alpha, s->rsi_factor);
        }
        if (count >= s->rsi_period) { /* _kernels.rsi_of_averages */
            rsi = down == 0.0 ? 100.0 : 100.0 - 100.0 / (1.0 + up / down);
        }
    }

    /* MACD */
    double fast = s->fast, fast_wt = s->fast_wt, slow = s->slow, slow_wt = s->slow_wt;
    ema_step(c, first, &fast, &fast_wt, s->fast_alpha, s->adjust);
    ema_step(c, first, &slow, &slow_wt, s->slow_alpha, s->adjust);
    double macd = (count >= s->fast_min ? fast : Py_NAN) - (count >= s->slow_min ? slow : Py_NAN);
    long long macd_count = s->macd_count;
    double signal_value = s->signal, signal_wt = s->signal_wt, signal = Py_NAN;
    if (!isnan(macd)) {
        ema_step(macd, macd_count == 0, &signal_value, &signal_wt, s->signal_alpha, s->adjust);
        macd_count += 1;
        if (macd_count >= s->signal_min) {
            signal = signal_value;
        }
    }

    /* CCI */
    Py_ssize_t period = s->cci_period;
    double typical = (h + low + c) / 3.0, cci = Py_NAN;
    if (count >= period) {
        double mean = window_sum(s->typicals, period, s->cci_head, typical) / (double)period;
        double deviation = 0.0;
        Py_ssize_t i = s->cci_head;
        for (Py_ssize_t n = 1; n < period; n++) {
            i = i + 1 < period ? i + 1 : 0;
            deviation += fabs(s->typicals[i] - mean);
        }
        double mad = (deviation + fabs(typical - mean)) / (double)period;
        if (mad != 0.0) {
            cci = (typical - mean) / (s->cci_constant * mad);
        }
    }

    long engulfing = first ? 0 : engulfing_of(s->prev_open, s->prev_close, o, c);

    if (commit) {
        s->count = count;
        s->prev_open = o;
        s->prev_close = c;
        s->rsi_up = up;
        s->rsi_down = down;
        if (!first) {
            s->gains[s->rsi_head] = gain;
            s->losses[s->rsi_head] = loss;
            s->rsi_head = s->rsi_head + 1 < s->rsi_period ? s->rsi_head + 1 : 0;
        }
        s->fast = fast;
        s->fast_wt = fast_wt;
        s->slow = slow;
        s->slow_wt = slow_wt;
        s->signal = signal_value;
        s->signal_wt = signal_wt;
        s->macd_count = macd_count;
        s->typicals[s->cci_head] = typical;
        s->cci_head = s->cci_head + 1 < period ? s->cci_head + 1 : 0;
    }

    PyObject *result = PyDict_Copy(result_template);
    if (result == NULL) {
        return NULL;
    }
    if (set_value(result, 0, PyFloat_FromDouble(rsi)) < 0 ||
        set_value(result, 1, PyFloat_FromDouble(macd)) < 0 ||
        set_value(result, 2, PyFloat_FromDouble(signal)) < 0 ||
        set_value(result, 3, PyFloat_FromDouble(macd - signal)) < 0 ||
        set_value(result, 4, PyFloat_FromDouble(cci)) < 0 ||
        set_value(result, 5, PyLong_FromLong(c >= o)) < 0 ||
        set_value(result, 6, PyLong_FromLong(engulfing)) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

static PyObject *State_update(State *self, PyObject *candle) { return step(self, candle, 1); }

static PyObject *State_peek(State *self, PyObject *candle) { return step(self, candle, 0); }

static void free_windows(State *self) {
    PyMem_Free(self->gains);
    PyMem_Free(self->losses);
    PyMem_Free(self->typicals);
    self->gains = self->losses = self->typicals = NULL;
}

static int State_init(State *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"rsi_period", "rsi_sma", "rsi_alpha", "macd_alphas", "macd_adjust",
                            "macd_min_periods", "cci_period", "cci_constant", NULL};
    Py_ssize_t rsi_period, cci_period;
    int rsi_sma, adjust;
    double rsi_alpha, cci_constant;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "npd(ddd)p(LLL)nd", names, &rsi_period, &rsi_sma,
                                     &rsi_alpha, &self->fast_alpha, &self->slow_alpha, &self->signal_alpha,
                                     &adjust, &self->fast_min, &self->slow_min, &self->signal_min,
                                     &cci_period, &cci_constant)) {
        return -1;
    }
    if (rsi_period < 1 || cci_period < 1) {
        PyErr_SetString(PyExc_ValueError, "periods must be >= 1");
        return -1;
    }
    free_windows(self);
    self->gains = PyMem_Calloc((size_t)rsi_period, sizeof(double));
    self->losses = PyMem_Calloc((size_t)rsi_period, sizeof(double));
    self->typicals = PyMem_Calloc((size_t)cci_period, sizeof(double));
    if (self->gains == NULL || self->losses == NULL || self->typicals == NULL) {
        free_windows(self);
        PyErr_NoMemory();
        return -1;
    }
    self->rsi_period = rsi_period;
    self->cci_period = cci_period;
    self->rsi_sma = rsi_sma;
    self->adjust = adjust;
    self->rsi_alpha = rsi_alpha;
    self->rsi_factor = 1.0 - rsi_alpha;
    self->cci_constant = cci_constant;
    self->count = self->macd_count = 0;
    self->prev_open = self->prev_close = Py_NAN;
    self->rsi_up = self->rsi_down = 0.0;
    self->fast = self->slow = self->signal = Py_NAN;
    self->fast_wt = self->slow_wt = self->signal_wt = 1.0;
    self->rsi_head = self->cci_head = 0;
    return 0;
}

static void State_dealloc(State *self) {
    free_windows(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A window's stored values, oldest first (at most its period). */
static PyObject *window_list(const double *ring, Py_ssize_t period, Py_ssize_t head, long long stored) {
    Py_ssize_t size = stored < period ? (Py_ssize_t)stored : period;
    PyObject *list = PyList_New(size);
    if (list == NULL) {
        return NULL;
    }
    Py_ssize_t start = size < period ? 0 : head;
    for (Py_ssize_t n = 0; n < size; n++) {
        PyObject *value = PyFloat_FromDouble(ring[(start + n) % period]);
        if (value == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, n, value);
    }
    return list;
}

static PyObject *State_count(State *self, void *closure) { return PyLong_FromLongLong(self->count); }

static PyObject *State_gains(State *self, void *closure) {
    long long stored = self->count > 0 ? self->count - 1 : 0;
    return window_list(self->gains, self->rsi_period, self->rsi_head, stored);
}

static PyObject *State_losses(State *self, void *closure) {
    long long stored = self->count > 0 ? self->count - 1 : 0;
    return window_list(self->losses, self->rsi_period, self->rsi_head, stored);
}

static PyObject *State_typical(State *self, void *closure) {
    return window_list(self->typicals, self->cci_period, self->cci_head, self->count);
}

static PyMethodDef State_methods[] = {
    {"update", (PyCFunction)State_update, METH_O,
     "update($self, candle, /)\n--\n\nFeed one closed candle (a Candle or a mapping with "
     "open/high/low/close) and return the indicators as of it (NaN while warming up)."},
    {"peek", (PyCFunction)State_peek, METH_O,
     "peek($self, candle, /)\n--\n\nThe indicators if ``candle`` closed now; the state is not changed."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef State_getset[] = {
    {"count", (getter)State_count, NULL, "Closed candles fed so far.", NULL},
    {"_gains", (getter)State_gains, NULL, "The RSI window's gains, oldest first.", NULL},
    {"_losses", (getter)State_losses, NULL, "The RSI window's losses, oldest first.", NULL},
    {"_typical", (getter)State_typical, NULL, "The CCI window's typical prices, oldest first.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject StateType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cryptoflow.indicators._cstream.State",
    .tp_doc = "One symbol's indicator state; the base of StreamingIndicators.",
    .tp_basicsize = sizeof(State),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)State_init,
    .tp_dealloc = (destructor)State_dealloc,
    .tp_methods = State_methods,
    .tp_getset = State_getset,
};

static PyObject *configure(PyObject *module, PyObject *args) {
    PyObject *keys, *candle, *prices, *error;
    if (!PyArg_ParseTuple(args, "O!OOO", &PyTuple_Type, &keys, &candle, &prices, &error)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(keys) != 7 || !PyType_Check(candle)) {
        PyErr_SetString(PyExc_TypeError, "configure(seven result keys, the Candle class, prices, nan_error)");
        return NULL;
    }
    PyObject *template = PyDict_New();
    if (template == NULL) {
        return NULL;
    }
    for (int i = 0; i < 7; i++) {
        Py_XSETREF(result_keys[i], Py_NewRef(PyTuple_GET_ITEM(keys, i)));
        if (PyDict_SetItem(template, result_keys[i], Py_None) < 0) {
            Py_DECREF(template);
            return NULL;
        }
    }
    Py_XSETREF(result_template, template);
    Py_XSETREF(candle_type, Py_NewRef(candle));
    Py_XSETREF(prices_of, Py_NewRef(prices));
    Py_XSETREF(nan_error, Py_NewRef(error));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS, "Set the result keys, the Candle class and the fallbacks."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_cstream",
    .m_doc = "The streaming engine's compiled state and step.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__cstream(void) {
    const char *attrs[4] = {"open", "high", "low", "close"};
    for (int i = 0; i < 4; i++) {
        attr_names[i] = PyUnicode_InternFromString(attrs[i]);
        if (attr_names[i] == NULL) {
            return NULL;
        }
    }
    if (PyType_Ready(&StateType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "State", (PyObject *)&StateType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
