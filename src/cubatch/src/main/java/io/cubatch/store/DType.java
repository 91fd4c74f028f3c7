package io.cubatch.store;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of stored samples and padded outputs, with their NumPy {@code descr} and Megatron
 * {@code .idx} codes. Multi-byte types are little-endian in every file cubatch reads or writes. The
 * ordinals are the dtype codes of the kernels ({@code cuda/cb_common.cuh}); a test keeps them in step.
 */
public enum DType {
    /** Boolean, one byte (0 or 1); NumPy {@code |b1}; no Megatron code. */
    BOOL(1, "|b1", 0),
    /** Signed 8-bit integer; NumPy {@code |i1}, Megatron 2. */
    INT8(1, "|i1", 2),
    /** Unsigned 8-bit integer; NumPy {@code |u1}, Megatron 1. */
    UINT8(1, "|u1", 1),
    /** Signed 16-bit integer; NumPy {@code <i2}, Megatron 3. */
    INT16(2, "<i2", 3),
    /** Unsigned 16-bit integer; NumPy {@code <u2}, Megatron 8. */
    UINT16(2, "<u2", 8),
    /** Signed 32-bit integer; NumPy {@code <i4}, Megatron 4. */
    INT32(4, "<i4", 4),
    /** Signed 64-bit integer; NumPy {@code <i8}, Megatron 5. */
    INT64(8, "<i8", 5),
    /** IEEE 754 half precision; NumPy {@code <f2}; no Megatron code. */
    FLOAT16(2, "<f2", 0),
    /** IEEE 754 single precision; NumPy {@code <f4}, Megatron 7. */
    FLOAT32(4, "<f4", 7),
    /** IEEE 754 double precision; NumPy {@code <f8}, Megatron 6. */
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

    /**
     * Bytes per element.
     *
     * @return 1, 2, 4 or 8
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * NumPy's little-endian {@code descr}, e.g. {@code "<f4"}; empty for bfloat16, which NumPy lacks.
     *
     * @return the descr, or empty for bfloat16
     */
    public java.util.Optional<String> npyDescr() {
        return java.util.Optional.ofNullable(npyDescr);
    }

    /**
     * True for the floating-point types: float16, bfloat16, float32 and float64.
     *
     * @return whether the type is one of those four
     */
    public boolean isFloatingPoint() {
        return this == FLOAT16 || this == FLOAT32 || this == FLOAT64 || this == BFLOAT16;
    }

    /**
     * The lower-case name used by the CLI and NumPy ({@code int32}, {@code float16}, {@code bool}).
     *
     * @return the constant's name in lower case
     */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The type for a NumPy {@code descr} such as {@code "<i4"} or {@code "|u1"}; empty when unsupported.
     *
     * @param descr a NumPy {@code descr}; one-byte types match with {@code '|'} or {@code '<'}
     * @return the type, or empty
     */
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

    /**
     * The type for a CLI or NumPy name such as {@code int32} or {@code bfloat16}; empty when unknown.
     *
     * @param name the name, in any case
     * @return the type, or empty
     */
    public static Optional<DType> fromName(String name) {
        for (DType t : values()) {
            if (t.cliName().equals(name.toLowerCase(Locale.ROOT))) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /**
     * The type for a Megatron {@code .idx} dtype code (1..8); empty for any other code.
     *
     * @param code the code from the {@code .idx} header
     * @return the type, or empty
     */
    public static Optional<DType> fromMegatronCode(int code) {
        for (DType t : values()) {
            if (t.megatronCode == code && code != 0) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /**
     * The Megatron {@code .idx} code, or -1 when Megatron has none for this type.
     *
     * @return 1 to 8, or -1 for bool, float16 and bfloat16
     */
    public int megatronCode() {
        return megatronCode == 0 ? -1 : megatronCode;
    }
}
