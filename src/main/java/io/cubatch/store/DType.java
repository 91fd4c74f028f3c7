package io.cubatch.store;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of stored samples, with their NumPy {@code descr} and Megatron {@code .idx} codes.
 * Multi-byte types are little-endian in every file cubatch reads or writes.
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
    FLOAT64(8, "<f8", 6);

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

    /** NumPy's little-endian {@code descr}, e.g. {@code "<f4"}. */
    public String npyDescr() {
        return npyDescr;
    }

    /** True for float16, float32 and float64. */
    public boolean isFloatingPoint() {
        return this == FLOAT16 || this == FLOAT32 || this == FLOAT64;
    }

    /** The lower-case name used by the CLI and NumPy ({@code int32}, {@code float16}, {@code bool}). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The type for a NumPy {@code descr} such as {@code "<i4"} or {@code "|u1"}; empty when unsupported. */
    public static Optional<DType> fromNpyDescr(String descr) {
        for (DType t : values()) {
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
