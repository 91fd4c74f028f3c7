package io.cubatch.cuda.internal;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * The kernels' by-value argument structs (cuda/cb_pad.cuh {@code cb_pad_args}, cuda/cb_collate.cuh
 * {@code cb_stack_args}) as bytes for cuLaunchKernel. The layouts are declared here field by field with the
 * C padding; a test compares every offset and the size with libcubatch's {@code cb_struct_layout}, which
 * reports what the compiler did (nvcc follows the host ABI for structs).
 */
public final class KernelArgs {
    private KernelArgs() {
    }

    private static final ValueLayout.OfLong PTR = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    public static final StructLayout PAD = MemoryLayout.structLayout(
            PTR.withName("values"), I32.withName("src_dtype"), MemoryLayout.paddingLayout(4),
            PTR.withName("offsets"), I64.withName("fixed_len"), I64.withName("features"), PTR.withName("indices"),
            I64.withName("batch"), I64.withName("out_len"), I64.withName("limit"), I32.withName("pad_side"),
            I32.withName("trunc_side"), I32.withName("dst_dtype"), MemoryLayout.paddingLayout(4),
            PTR.withName("pad_value"), PTR.withName("out"), PTR.withName("lengths"), PTR.withName("mask"),
            PTR.withName("positions"));

    public static final StructLayout STACK = MemoryLayout.structLayout(
            PTR.withName("values"), I32.withName("src_dtype"), MemoryLayout.paddingLayout(4),
            I64.withName("row_elems"), PTR.withName("indices"), I64.withName("batch"), I32.withName("dst_dtype"),
            MemoryLayout.paddingLayout(4), PTR.withName("out"));

    /** The fields of {@link #PAD}, in declaration order (as cb_struct_layout reports them). */
    public static final String[] PAD_FIELDS = {"values", "src_dtype", "offsets", "fixed_len", "features", "indices",
        "batch", "out_len", "limit", "pad_side", "trunc_side", "dst_dtype", "pad_value", "out", "lengths", "mask",
        "positions"};
    public static final String[] STACK_FIELDS = {"values", "src_dtype", "row_elems", "indices", "batch", "dst_dtype",
        "out"};

    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** cb_pad_args; pointers are device addresses (0 for NULL). */
    public static byte[] pad(long values, int srcDtype, long offsets, long fixedLen, long features, long indices,
                             long batch, long outLen, long limit, int padSide, int truncSide, int dstDtype,
                             long padValue, long out, long lengths, long mask, long positions) {
        byte[] bytes = new byte[(int) PAD.byteSize()];
        MemorySegment s = MemorySegment.ofArray(bytes);
        s.set(PTR, offset(PAD, "values"), values);
        s.set(I32, offset(PAD, "src_dtype"), srcDtype);
        s.set(PTR, offset(PAD, "offsets"), offsets);
        s.set(I64, offset(PAD, "fixed_len"), fixedLen);
        s.set(I64, offset(PAD, "features"), features);
        s.set(PTR, offset(PAD, "indices"), indices);
        s.set(I64, offset(PAD, "batch"), batch);
        s.set(I64, offset(PAD, "out_len"), outLen);
        s.set(I64, offset(PAD, "limit"), limit);
        s.set(I32, offset(PAD, "pad_side"), padSide);
        s.set(I32, offset(PAD, "trunc_side"), truncSide);
        s.set(I32, offset(PAD, "dst_dtype"), dstDtype);
        s.set(PTR, offset(PAD, "pad_value"), padValue);
        s.set(PTR, offset(PAD, "out"), out);
        s.set(PTR, offset(PAD, "lengths"), lengths);
        s.set(PTR, offset(PAD, "mask"), mask);
        s.set(PTR, offset(PAD, "positions"), positions);
        return bytes;
    }

    /** cb_stack_args. */
    public static byte[] stack(long values, int srcDtype, long rowElems, long indices, long batch, int dstDtype,
                               long out) {
        byte[] bytes = new byte[(int) STACK.byteSize()];
        MemorySegment s = MemorySegment.ofArray(bytes);
        s.set(PTR, offset(STACK, "values"), values);
        s.set(I32, offset(STACK, "src_dtype"), srcDtype);
        s.set(I64, offset(STACK, "row_elems"), rowElems);
        s.set(PTR, offset(STACK, "indices"), indices);
        s.set(I64, offset(STACK, "batch"), batch);
        s.set(I32, offset(STACK, "dst_dtype"), dstDtype);
        s.set(PTR, offset(STACK, "out"), out);
        return bytes;
    }
}
