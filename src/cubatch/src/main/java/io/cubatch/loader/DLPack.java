package io.cubatch.loader;

import io.cubatch.store.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ConcurrentHashMap;

/**
 * DLPack 1.x export: a {@code DLManagedTensorVersioned*} over memory cubatch owns, for native frameworks that
 * adopt tensors without a copy (libtorch's {@code at::fromDLPackVersioned}, CuPy, JAX, TVM). The layouts below
 * match {@code dlpack.h} (DLPack 1.0 and 1.1 share the ABI) field for field, on 64-bit platforms:
 * <pre>
 * DLManagedTensorVersioned (80 bytes)            DLTensor (48 bytes, at 32)
 *   0  DLPackVersion { u32 major; u32 minor }      0  void*   data
 *   8  void*    manager_ctx                        8  DLDevice { i32 device_type; i32 device_id }
 *  16  void   (*deleter)(DLManagedTensorVersioned*) 16  i32     ndim
 *  24  u64      flags                              20  DLDataType { u8 code; u8 bits; u16 lanes }
 *  32  DLTensor dl_tensor                          24  i64*    shape     (ndim entries)
 *                                                  32  i64*    strides   (ndim entries, in elements)
 *                                                  40  u64     byte_offset
 * </pre>
 * Ownership: each export has its own shared {@link Arena} holding the struct, shape and strides. The consumer
 * calls {@code deleter(self)} once when done, from any thread; the deleter (an upcall stub made once per JVM)
 * runs the exporter's release action (a {@link Batch}'s: give its slot back once the batch is closed too),
 * then closes that arena, which frees the struct. The deleter finds its export by the struct's address in a
 * concurrent map, never by reading the struct, so a second call with the same pointer finds nothing and does
 * nothing, as long as no later export reuses that address (calling it twice is the consumer's bug, which
 * DLPack forbids). A release action that throws is reported on stderr; it never unwinds into native code.
 */
public final class DLPack {
    /** The DLPack version written into every export. */
    public static final int MAJOR = 1;
    /** The DLPack minor version written into every export. */
    public static final int MINOR = 0;

    /** {@code DLDeviceType}: {@code kDLCPU}, {@code kDLCUDA}, {@code kDLCUDAHost} (pinned host memory). */
    public static final int KDL_CPU = 1;
    /** {@code kDLCUDA}: CUDA device memory. */
    public static final int KDL_CUDA = 2;
    /** {@code kDLCUDAHost}: pinned host memory. */
    public static final int KDL_CUDA_HOST = 3;

    /** {@code DLPACK_FLAG_BITMASK_READ_ONLY}: the consumer must not write. */
    public static final long FLAG_READ_ONLY = 1L;
    /** {@code DLPACK_FLAG_BITMASK_IS_COPIED}: the data is a copy the consumer owns until the deleter. */
    public static final long FLAG_IS_COPIED = 2L;

    /** {@code DLDataTypeCode}. */
    static final int KDL_INT = 0;
    static final int KDL_UINT = 1;
    static final int KDL_FLOAT = 2;
    static final int KDL_BFLOAT = 4;
    static final int KDL_BOOL = 6;

    /** {@code DLPackVersion}: u32 major, u32 minor (8 bytes). */
    public static final StructLayout VERSION = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("major"), ValueLayout.JAVA_INT.withName("minor")).withName("DLPackVersion");
    /** {@code DLDevice}: i32 device_type, i32 device_id (8 bytes). */
    public static final StructLayout DEVICE = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("device_type"), ValueLayout.JAVA_INT.withName("device_id")).withName("DLDevice");
    /** {@code DLDataType}: u8 code, u8 bits, u16 lanes (4 bytes). */
    public static final StructLayout DATA_TYPE = MemoryLayout.structLayout(ValueLayout.JAVA_BYTE.withName("code"),
            ValueLayout.JAVA_BYTE.withName("bits"), ValueLayout.JAVA_SHORT.withName("lanes")).withName("DLDataType");
    /** {@code DLTensor} (48 bytes), laid out as in the diagram above. */
    public static final StructLayout TENSOR = MemoryLayout.structLayout(
            ValueLayout.ADDRESS.withName("data"),
            DEVICE.withName("device"),
            ValueLayout.JAVA_INT.withName("ndim"),
            DATA_TYPE.withName("dtype"),
            ValueLayout.ADDRESS.withName("shape"),
            ValueLayout.ADDRESS.withName("strides"),
            ValueLayout.JAVA_LONG.withName("byte_offset")).withName("DLTensor");
    /** {@code DLManagedTensorVersioned} (80 bytes), laid out as in the diagram above. */
    public static final StructLayout MANAGED_TENSOR_VERSIONED = MemoryLayout.structLayout(
            VERSION.withName("version"),
            ValueLayout.ADDRESS.withName("manager_ctx"),
            ValueLayout.ADDRESS.withName("deleter"),
            ValueLayout.JAVA_LONG.withName("flags"),
            TENSOR.withName("dl_tensor")).withName("DLManagedTensorVersioned");

    private static final long MAJOR_AT = offset(PathElement.groupElement("version"), PathElement.groupElement("major"));
    private static final long MINOR_AT = offset(PathElement.groupElement("version"), PathElement.groupElement("minor"));
    private static final long CTX_AT = offset(PathElement.groupElement("manager_ctx"));
    private static final long DELETER_AT = offset(PathElement.groupElement("deleter"));
    private static final long FLAGS_AT = offset(PathElement.groupElement("flags"));
    private static final long DATA_AT = tensor("data");
    private static final long DEVICE_TYPE_AT = tensor("device") + DEVICE.byteOffset(PathElement.groupElement("device_type"));
    private static final long DEVICE_ID_AT = tensor("device") + DEVICE.byteOffset(PathElement.groupElement("device_id"));
    private static final long NDIM_AT = tensor("ndim");
    private static final long CODE_AT = tensor("dtype") + DATA_TYPE.byteOffset(PathElement.groupElement("code"));
    private static final long BITS_AT = tensor("dtype") + DATA_TYPE.byteOffset(PathElement.groupElement("bits"));
    private static final long LANES_AT = tensor("dtype") + DATA_TYPE.byteOffset(PathElement.groupElement("lanes"));
    private static final long SHAPE_AT = tensor("shape");
    private static final long STRIDES_AT = tensor("strides");
    private static final long BYTE_OFFSET_AT = tensor("byte_offset");

    /** Live exports by the address of their struct. */
    private static final ConcurrentHashMap<Long, Export> LIVE = new ConcurrentHashMap<>();
    private static final MemorySegment DELETER = deleterStub();

    private record Export(Arena arena, Runnable release, String what) {
    }

    private DLPack() {
    }

    /**
     * A C-contiguous tensor over {@code address} as a {@code DLManagedTensorVersioned*} (a segment of
     * {@link #MANAGED_TENSOR_VERSIONED}'s size). {@code release} runs once, when the consumer calls the deleter.
     *
     * @param address    the first element (host address, or device address for {@link #KDL_CUDA}); 0 for an empty
     *                   tensor, as DLPack asks
     * @param deviceType {@link #KDL_CPU}, {@link #KDL_CUDA} or {@link #KDL_CUDA_HOST}
     * @param deviceId   the GPU ordinal, 0 for host memory
     * @param readOnly   sets {@link #FLAG_READ_ONLY}
     * @param what       names the tensor in a report of a release that fails
     * @param dtype the element type; every {@link DType} has a DLPack code
     * @param shape the dimensions, each at least 0; copied into the export
     * @param release what to run when the consumer deletes the export
     * @return the struct, a segment of {@link #MANAGED_TENSOR_VERSIONED}'s size; freed by its deleter, not by the
     *     caller
     * @throws IllegalArgumentException for a negative dimension or a dtype DLPack cannot describe
     */
    public static MemorySegment export(long address, int deviceType, int deviceId, DType dtype, long[] shape,
                                       boolean readOnly, Runnable release, String what) {
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape) + " of " + what
                        + " has a negative dimension");
            }
        }
        Arena arena = Arena.ofShared();
        try {
            int ndim = shape.length;
            MemorySegment m = arena.allocate(MANAGED_TENSOR_VERSIONED);
            MemorySegment dims = arena.allocate(Math.max(8, 16L * ndim), 8);
            long stride = 1;
            for (int i = ndim - 1; i >= 0; i--) {
                dims.setAtIndex(ValueLayout.JAVA_LONG, i, shape[i]);
                dims.setAtIndex(ValueLayout.JAVA_LONG, ndim + i, stride);
                stride *= Math.max(1, shape[i]);
            }
            m.set(ValueLayout.JAVA_INT, MAJOR_AT, MAJOR);
            m.set(ValueLayout.JAVA_INT, MINOR_AT, MINOR);
            m.set(ValueLayout.ADDRESS, CTX_AT, m);   // the struct itself: consumers treat it as opaque
            m.set(ValueLayout.ADDRESS, DELETER_AT, DELETER);
            m.set(ValueLayout.JAVA_LONG, FLAGS_AT, readOnly ? FLAG_READ_ONLY : 0);
            m.set(ValueLayout.ADDRESS, DATA_AT, MemorySegment.ofAddress(address));
            m.set(ValueLayout.JAVA_INT, DEVICE_TYPE_AT, deviceType);
            m.set(ValueLayout.JAVA_INT, DEVICE_ID_AT, deviceId);
            m.set(ValueLayout.JAVA_INT, NDIM_AT, ndim);
            m.set(ValueLayout.JAVA_BYTE, CODE_AT, (byte) code(dtype));
            m.set(ValueLayout.JAVA_BYTE, BITS_AT, (byte) (8 * dtype.byteSize()));
            m.set(ValueLayout.JAVA_SHORT, LANES_AT, (short) 1);
            m.set(ValueLayout.ADDRESS, SHAPE_AT, dims);
            m.set(ValueLayout.ADDRESS, STRIDES_AT, dims.asSlice(8L * ndim));
            m.set(ValueLayout.JAVA_LONG, BYTE_OFFSET_AT, 0L);
            LIVE.put(m.address(), new Export(arena, release, what));
            // the consumer gets a plain address: passed to a downcall it holds no arena, so a deleter called
            // during that call can still close this export's arena
            return MemorySegment.ofAddress(m.address()).reinterpret(MANAGED_TENSOR_VERSIONED.byteSize());
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Exports not yet deleted by their consumers: a leak check for tests and shutdown.
     *
     * @return the number of exports whose deleter has not run
     */
    public static int liveExports() {
        return LIVE.size();
    }

    /** The {@code DLDataTypeCode} of {@code dtype}. */
    static int code(DType dtype) {
        return switch (dtype) {
            case BOOL -> KDL_BOOL;
            case INT8, INT16, INT32, INT64 -> KDL_INT;
            case UINT8, UINT16 -> KDL_UINT;
            case FLOAT16, FLOAT32, FLOAT64 -> KDL_FLOAT;
            case BFLOAT16 -> KDL_BFLOAT;
        };
    }

    /** The deleter's body: runs on whichever thread the consumer calls it, maybe one the JVM has never seen. */
    @SuppressWarnings("unused")   // called through the upcall stub
    private static void delete(MemorySegment self) {
        try {
            Export e = LIVE.remove(self.address());
            if (e == null) {
                return;   // deleted already, or not ours
            }
            try {
                e.release().run();
            } finally {
                e.arena().close();
            }
        } catch (Throwable t) {
            // an exception must not unwind into the consumer's native frame (it would crash the JVM)
            try {
                System.err.println("cubatch: DLPack deleter failed: " + t);
            } catch (Throwable ignored) {
                // nothing more can be done from here
            }
        }
    }

    private static MemorySegment deleterStub() {
        try {
            var handle = MethodHandles.lookup().findStatic(DLPack.class, "delete",
                    MethodType.methodType(void.class, MemorySegment.class));
            return Linker.nativeLinker().upcallStub(handle, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS),
                    Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static long offset(PathElement... path) {
        return MANAGED_TENSOR_VERSIONED.byteOffset(path);
    }

    private static long tensor(String field) {
        return offset(PathElement.groupElement("dl_tensor"), PathElement.groupElement(field));
    }
}
