package io.cubatch.store;

/**
 * Layout of a NumPy {@code .npy} file (format versions 1.0, 2.0, 3.0).
 * <pre>
 *  0                   6     7     8             10 (v1) / 12 (v2, v3)
 *  +-------------------+-----+-----+--------------+-------------------------------------+--------+
 *  | \x93 N U M P Y    |major|minor| header length| header: Python dict literal, padded  | data   |
 *  | magic, 6 bytes    | u8  | u8  | u16 LE (v1)  | with spaces, ends in '\n';           | C order|
 *  |                   |     |     | u32 LE (v2/3)| ASCII (v1, v2), UTF-8 (v3)           |        |
 *  +-------------------+-----+-----+--------------+-------------------------------------+--------+
 *  data starts at  prefix + header length,  a multiple of 64 in files NumPy writes
 * </pre>
 * The header reads {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }}: keys in any order,
 * an optional trailing comma. The data is {@code product(shape) * itemsize} bytes; cubatch requires the file
 * to end exactly there.
 */
public final class NpyDescriptor {
    /** The 6 magic bytes at offset 0: {@code \x93NUMPY} (the readers and writers of this package share the array; never modified). */
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

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
    /** Byte offset of the major version, a u8 (1, 2 or 3). */
    public static final int MAJOR_OFFSET = 6;
    /** Byte offset of the minor version, a u8 (0). */
    public static final int MINOR_OFFSET = 7;
    /** Byte offset of the header length: a little-endian u16 in version 1, u32 in versions 2 and 3. */
    public static final int HEADER_LENGTH_OFFSET = 8;
    /** Where the header dict starts in version 1.0 (after a u16 length). */
    public static final int V1_HEADER_OFFSET = 10;
    /** Where the header dict starts in versions 2.0 and 3.0 (after a u32 length). */
    public static final int V2_HEADER_OFFSET = 12;
    /** NumPy pads the header so the data starts at a multiple of this. */
    public static final int DATA_ALIGNMENT = 64;
    /** A header longer than this is refused as hostile (NumPy itself caps at 10 000 bytes by default). */
    public static final int MAX_HEADER_LENGTH = 1 << 20;

    private NpyDescriptor() {
    }
}
