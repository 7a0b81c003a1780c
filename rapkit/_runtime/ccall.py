"""numba intrinsics: calling a C function by its address from a kernel; an array's
unowned view.

numba calls a ``ctypes`` function from compiled code, but a kernel that names one cannot be
cached (its address is baked into the machine code). :func:`call_int32` takes the address as
an argument instead: the kernel stays cacheable, and the caller looks the address up in each
process (``ctypes.cast(fn, ctypes.c_void_p).value``). Used by :mod:`rapkit.kernels.pq_chunk`
to inflate with libdeflate inside a ``nogil`` kernel. This package is the only place in
rapkit that touches numba's internals.

:func:`borrow` gives a view of an array that does not own a reference to its memory: its
slices are made and dropped without numba's reference counting (an atomic add on the
array's shared counter for each slice, each call that takes one). The fused pair kernel of
:mod:`rapkit.kernels.pq` takes several slices of its row buffers per image row; with them
counted, a quarter of its time went to the counter, and two threads counting on one array
contend for its cache line.

>>> import ctypes
>>> from rapkit._runtime.jit import njit
>>> libc = ctypes.CDLL(None)
>>> @njit
... def c_abs(addr, x):
...     return call_int32(addr, (x,))
>>> c_abs(ctypes.cast(libc.abs, ctypes.c_void_p).value, -7)
7
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

__all__ = ["borrow", "call_int32"]


@intrinsic
def call_int32(typingctx: Any, addr: Any, args: Any) -> Any:
    """``call_int32(addr, (a0, a1, ...))``: call the C function at ``addr`` (an integer) with
    integer arguments, each passed as a 64-bit integer (pointers, sizes; a C ``int`` or
    ``uint32`` argument reads the low 32 bits), and return its C ``int`` result as int64."""
    if not isinstance(addr, types.Integer):
        return None
    if isinstance(args, types.UniTuple):
        ok = isinstance(args.dtype, types.Integer)
        arg_types = [args.dtype] * args.count
    elif isinstance(args, types.Tuple):
        ok = all(isinstance(t, types.Integer) for t in args.types)
        arg_types = list(args.types)
    else:
        return None
    if not ok:
        return None
    n = len(arg_types)

    def codegen(context: Any, builder: Any, signature: Any, llargs: Any) -> Any:
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.IntType(32), [i64] * n)
        fn = builder.inttoptr(llargs[0], fnty.as_pointer())
        vals = []
        for k, t in enumerate(arg_types):
            v = builder.extract_value(llargs[1], k)
            if v.type.width < 64:
                v = builder.sext(v, i64) if t.signed else builder.zext(v, i64)
            vals.append(v)
        return builder.sext(builder.call(fn, vals), i64)

    return types.int64(addr, args), codegen


@intrinsic
def borrow(typingctx: Any, arr: Any) -> Any:
    """``borrow(a)``: ``a`` (same type, same data, shape and strides) without an owner, so
    that neither the view nor its slices touch ``a``'s reference count. The caller keeps
    ``a`` itself alive for as long as the view is used (read ``a`` after the last use of
    the view: numba releases a variable after its last use), and never returns or stores
    the view.

    >>> import numpy as np
    >>> from rapkit._runtime.jit import njit
    >>> @njit
    ... def total(a):
    ...     v = borrow(a)
    ...     s = v[1:].sum()
    ...     return s + 0 * a.shape[0]   # a used after the view: alive throughout
    >>> int(total(np.arange(5)))
    10
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, llargs: Any) -> Any:
        cls = context.make_array(arr)
        src = cls(context, builder, value=llargs[0])
        out = cls(context, builder)
        for name in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, name, getattr(src, name))
        out.meminfo = ir.Constant(out.meminfo.type, None)  # NRT_incref/decref return at once on NULL
        out.parent = ir.Constant(out.parent.type, None)
        return out._getvalue()

    return arr(arr), codegen
