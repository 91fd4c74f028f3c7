package io.cubatch.store;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of stored samples and padded outputs, with their NumPy {@code descr} and Megatron
 * {@code .idx} codes. Multi-byte types are little-endian in every file cubatch reads or writes. The
 * ordinals are the dtype codes of the kernels ({@code cuda/cb_common.cuh}); a test keeps them in step.
 */
public enum DType {
    BOOL(1, "|b1", 0),
    INT8(1, "|i1", 2),
    UINT8(1, "|u1", 1),
    INT16(2, "<i2", 3),
    UINT16(2, "<u2", 8),
    INT32(4, "<i4", 4),
    INT64(8, "<i8", 5),
    FLOAT16(2, "<f2", 0),
    FLOAT32(4, "<f4", 7),
    FLOAT64(8, "<f8", 6),
    /** Output only: NumPy has no bfloat16, so .npy files neither hold nor receive it. */
    BFLOAT16(2, null, 0);

    private final int byteSize;
    private final String npyDescr;
    private final int megatronCode;

    DType(int byteSize, String npyDescr, int megatronCode) {
        this.byteSize = byteSize;
        this.npyDescr = npyDescr;
        this.megatronCode = megatronCode;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** NumPy's little-endian {@code descr}, e.g. {@code "<f4"}; empty for bfloat16, which NumPy lacks. */
    public java.util.Optional<String> npyDescr() {
        return java.util.Optional.ofNullable(npyDescr);
    }

    /** True for float16, float32 and float64. */
    public boolean isFloatingPoint() {
        return this == FLOAT16 || this == FLOAT32 || this == FLOAT64 || this == BFLOAT16;
    }

    /** The lower-case name used by the CLI and NumPy ({@code int32}, {@code float16}, {@code bool}). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The type for a NumPy {@code descr} such as {@code "<i4"} or {@code "|u1"}; empty when unsupported. */
    public static Optional<DType> fromNpyDescr(String descr) {
        for (DType t : values()) {
            if (t.npyDescr == null) {
                continue;
            }
            if (t.npyDescr.equals(descr)) {
                return Optional.of(t);
            }
            // NumPy writes one-byte types with '|' but accepts '<' for them too.
            if (t.byteSize == 1 && descr.length() == 3 && descr.charAt(0) == '<'
                    && descr.substring(1).equals(t.npyDescr.substring(1))) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The type for a CLI or NumPy name such as {@code int32} or {@code bfloat16}; empty when unknown. */
    public static Optional<DType> fromName(String name) {
        for (DType t : values()) {
            if (t.cliName().equals(name.toLowerCase(Locale.ROOT))) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The type for a Megatron {@code .idx} dtype code (1..8); empty for any other code. */
    public static Optional<DType> fromMegatronCode(int code) {
        for (DType t : values()) {
            if (t.megatronCode == code && code != 0) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The Megatron {@code .idx} code, or -1 when Megatron has none for this type. */
    public int megatronCode() {
        return megatronCode == 0 ? -1 : megatronCode;
    }
}
