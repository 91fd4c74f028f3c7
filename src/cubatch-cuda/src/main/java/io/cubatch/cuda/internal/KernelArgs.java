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

    public static final StructLayout PACK = MemoryLayout.structLayout(
            PTR.withName("values"), I32.withName("src_dtype"), MemoryLayout.paddingLayout(4),
            I64.withName("features"), PTR.withName("first"), PTR.withName("keep"), PTR.withName("start"),
            I64.withName("seqs"), I64.withName("rows"), I64.withName("maxlen"), I32.withName("dst_dtype"),
            MemoryLayout.paddingLayout(4), PTR.withName("pad_value"), PTR.withName("out"), PTR.withName("mask"),
            PTR.withName("positions"), PTR.withName("lengths"), PTR.withName("cu_seqlens"), PTR.withName("max_seqlen"));

    /** The fields of {@link #PAD}, in declaration order (as cb_struct_layout reports them). */
    public static final String[] PAD_FIELDS = {"values", "src_dtype", "offsets", "fixed_len", "features", "indices",
        "batch", "out_len", "limit", "pad_side", "trunc_side", "dst_dtype", "pad_value", "out", "lengths", "mask",
        "positions"};
    public static final String[] STACK_FIELDS = {"values", "src_dtype", "row_elems", "indices", "batch", "dst_dtype",
        "out"};
    public static final String[] PACK_FIELDS = {"values", "src_dtype", "features", "first", "keep", "start", "seqs",
        "rows", "maxlen", "dst_dtype", "pad_value", "out", "mask", "positions", "lengths", "cu_seqlens", "max_seqlen"};

    public static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** Byte offsets of each struct's fields in declaration order, computed once (encoding is per batch). */
    private static final long[] PAD_AT = offsets(PAD, PAD_FIELDS);
    private static final long[] STACK_AT = offsets(STACK, STACK_FIELDS);
    private static final long[] PACK_AT = offsets(PACK, PACK_FIELDS);

    private static long[] offsets(StructLayout layout, String[] fields) {
        long[] at = new long[fields.length];
        for (int i = 0; i < fields.length; i++) {
            at[i] = offset(layout, fields[i]);
        }
        return at;
    }

    /** cb_pad_args; pointers are device addresses (0 for NULL). */
    public static byte[] pad(long values, int srcDtype, long offsets, long fixedLen, long features, long indices,
                             long batch, long outLen, long limit, int padSide, int truncSide, int dstDtype,
                             long padValue, long out, long lengths, long mask, long positions) {
        byte[] bytes = new byte[(int) PAD.byteSize()];
        MemorySegment s = MemorySegment.ofArray(bytes);
        long[] at = PAD_AT;
        s.set(PTR, at[0], values);
        s.set(I32, at[1], srcDtype);
        s.set(PTR, at[2], offsets);
        s.set(I64, at[3], fixedLen);
        s.set(I64, at[4], features);
        s.set(PTR, at[5], indices);
        s.set(I64, at[6], batch);
        s.set(I64, at[7], outLen);
        s.set(I64, at[8], limit);
        s.set(I32, at[9], padSide);
        s.set(I32, at[10], truncSide);
        s.set(I32, at[11], dstDtype);
        s.set(PTR, at[12], padValue);
        s.set(PTR, at[13], out);
        s.set(PTR, at[14], lengths);
        s.set(PTR, at[15], mask);
        s.set(PTR, at[16], positions);
        return bytes;
    }

    /** cb_stack_args. */
    public static byte[] stack(long values, int srcDtype, long rowElems, long indices, long batch, int dstDtype,
                               long out) {
        byte[] bytes = new byte[(int) STACK.byteSize()];
        MemorySegment s = MemorySegment.ofArray(bytes);
        long[] at = STACK_AT;
        s.set(PTR, at[0], values);
        s.set(I32, at[1], srcDtype);
        s.set(I64, at[2], rowElems);
        s.set(PTR, at[3], indices);
        s.set(I64, at[4], batch);
        s.set(I32, at[5], dstDtype);
        s.set(PTR, at[6], out);
        return bytes;
    }

    /** cb_pack_args; pointers are device addresses (0 for NULL). */
    public static byte[] pack(long values, int srcDtype, long features, long first, long keep, long start, long seqs,
                              long rows, long maxlen, int dstDtype, long padValue, long out, long mask, long positions,
                              long lengths, long cuSeqlens, long maxSeqlen) {
        byte[] bytes = new byte[(int) PACK.byteSize()];
        MemorySegment s = MemorySegment.ofArray(bytes);
        long[] at = PACK_AT;
        s.set(PTR, at[0], values);
        s.set(I32, at[1], srcDtype);
        s.set(I64, at[2], features);
        s.set(PTR, at[3], first);
        s.set(PTR, at[4], keep);
        s.set(PTR, at[5], start);
        s.set(I64, at[6], seqs);
        s.set(I64, at[7], rows);
        s.set(I64, at[8], maxlen);
        s.set(I32, at[9], dstDtype);
        s.set(PTR, at[10], padValue);
        s.set(PTR, at[11], out);
        s.set(PTR, at[12], mask);
        s.set(PTR, at[13], positions);
        s.set(PTR, at[14], lengths);
        s.set(PTR, at[15], cuSeqlens);
        s.set(PTR, at[16], maxSeqlen);
        return bytes;
    }
}
