package io.cubatch.store;

/**
 * Layout of a Megatron-LM indexed dataset index, {@code prefix.idx} (MMIDIDX, version 1); the tokens
 * are in {@code prefix.bin}, raw little-endian elements of the index's dtype, back to back.
 * <pre>
 *  0          9          17     18            26            34
 *  +----------+----------+------+-------------+-------------+
 *  | MMIDIDX  | version  |dtype | sequence    | document    |
 *  | \0 \0    | u64 = 1  | u8   | count S u64 | count D u64 |
 *  +----------+----------+------+-------------+-------------+
 *  34                     34+4S                34+12S                 34+12S+8D       +S (optional)
 *  +----------------------+----------------------+----------------------+-------------+
 *  | lengths: int32[S]    | pointers: int64[S]   | document index:      | modes:      |
 *  | elements per seq.    | byte offset into .bin| int64[D], 0 first,   | int8[S]     |
 *  |                      |                      | last = S             | (multimodal)|
 *  +----------------------+----------------------+----------------------+-------------+
 * </pre>
 * dtype codes: 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16.
 * Documents are {@code D - 1}: document {@code d} holds sequences {@code [index[d], index[d+1])}.
 * cubatch requires the pointers to be contiguous ({@code pointer[i+1] = pointer[i] + length[i] * itemsize},
 * {@code pointer[0] = 0}) and the {@code .bin} to end where the last sequence ends, which is what
 * Megatron's builder writes.
 */
public final class MegatronIndexDescriptor {
    /** The 9 magic bytes at offset 0: {@code MMIDIDX\0\0} (the readers and writers of this package share the array; never modified). */
    static final byte[] MAGIC = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};

    /**
     * The magic bytes at offset 0.
     *
     * @return a new copy of them, so no caller can change what the readers check
     */
    public static byte[] magic() {
        return MAGIC.clone();
    }

    /** Byte offset of the magic. */
    public static final int MAGIC_OFFSET = 0;
    /** Byte offset of the version, a little-endian u64. */
    public static final int VERSION_OFFSET = 9;
    /** Byte offset of the dtype code, a u8. */
    public static final int DTYPE_OFFSET = 17;
    /** Byte offset of the sequence count S, a little-endian u64. */
    public static final int SEQUENCE_COUNT_OFFSET = 18;
    /** Byte offset of the document count D (the document index's entries), a little-endian u64. */
    public static final int DOCUMENT_COUNT_OFFSET = 26;
    /** Bytes of the fixed header; the lengths follow. */
    public static final int HEADER_LENGTH = 34;
    /** The only version cubatch reads and writes. */
    public static final long VERSION = 1;

    private MegatronIndexDescriptor() {
    }

    /**
     * Byte offset of the lengths, {@code int32[S]}: elements per sequence.
     *
     * @return {@link #HEADER_LENGTH}
     */
    public static long lengthsOffset() {
        return HEADER_LENGTH;
    }

    /**
     * Byte offset of the pointers, {@code int64[S]}: each sequence's byte offset into the {@code .bin}.
     *
     * @param sequences the sequence count S
     * @return {@code 34 + 4S}
     */
    public static long pointersOffset(long sequences) {
        return HEADER_LENGTH + 4 * sequences;
    }

    /**
     * Byte offset of the document index, {@code int64[D]}.
     *
     * @param sequences the sequence count S
     * @return {@code 34 + 12S}
     */
    public static long documentIndexOffset(long sequences) {
        return HEADER_LENGTH + 12 * sequences;
    }

    /**
     * Byte offset of the optional modes, {@code int8[S]} (multimodal datasets).
     *
     * @param sequences the sequence count S
     * @param documents the document count D, the document index's entries
     * @return {@code 34 + 12S + 8D}
     */
    public static long modesOffset(long sequences, long documents) {
        return documentIndexOffset(sequences) + 8 * documents;
    }
}
