package io.cubatch.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes C-order little-endian {@code .npy} files (format 1.0, or 2.0 when the header needs more than 65535
 * bytes) that NumPy's {@code np.load} reads. A file appears whole or not at all, a set of them
 * ({@link #writeAll}: a batch and its lengths and mask) all or none, with the umask's mode; a target that is a
 * directory, a device or a pipe is refused, never replaced ({@link FileSet} says how).
 */
public final class NpyWriter {
    private static final int CHUNK = 1 << 30;

    private NpyWriter() {
    }

    /**
     * One array of a set.
     *
     * @param target where the file goes; replaced if it is a regular file
     * @param dtype  element type of {@code data}
     * @param shape  the array's shape; {@code product(shape) * itemsize} must equal {@code data.byteSize()}
     * @param data   the elements, C order, little-endian
     */
    public record Array(Path target, DType dtype, long[] shape, MemorySegment data) {
    }

    /**
     * Writes one array; see {@link Array} for the arguments and {@link #writeAll} for the guarantees.
     *
     * @param target where the file goes; replaced if it is a regular file
     * @param dtype element type of {@code data}
     * @param shape the array's shape; {@code product(shape) * itemsize} must equal {@code data.byteSize()}
     * @param data the elements, C order, little-endian; read, not kept
     * @throws IllegalArgumentException when the shape does not match the data or the dtype has no NumPy equivalent
     * @throws IOException when the file cannot be written; nothing has changed then
     */
    public static void write(Path target, DType dtype, long[] shape, MemorySegment data) throws IOException {
        writeAll(List.of(new Array(target, dtype, shape, data)));
    }

    /**
     * Writes every array, or none: on any failure no target has changed and no temporary is left.
     *
     * @param arrays the arrays to write, each to its own target
     * @throws IllegalArgumentException when a shape does not match its data, a dtype has no NumPy equivalent,
     *                                  two arrays share a target, or a target is not a regular file
     * @throws IOException              when a file cannot be written; nothing has changed then
     */
    public static void writeAll(List<Array> arrays) throws IOException {
        List<FileSet.Entry> entries = new ArrayList<>();
        for (Array a : arrays) {
            long expected = Math.multiplyExact(SampleStore.product(a.shape()), a.dtype().byteSize());
            if (a.data().byteSize() != expected) {
                throw new IllegalArgumentException("data holds " + a.data().byteSize() + " bytes, shape "
                        + java.util.Arrays.toString(a.shape()) + " of " + a.dtype().cliName() + " needs " + expected);
            }
            byte[] header = header(a.dtype(), a.shape());
            MemorySegment data = a.data();
            entries.add(new FileSet.Entry(a.target(), ch -> {
                writeFully(ch, ByteBuffer.wrap(header));
                for (long off = 0; off < data.byteSize(); off += CHUNK) {
                    writeFully(ch, data.asSlice(off, Math.min(CHUNK, data.byteSize() - off)).asByteBuffer());
                }
            }));
        }
        FileSet.writeAll(entries);
    }

    /** The magic, version, length and padded header dict, so that the data starts at a multiple of 64. */
    static byte[] header(DType dtype, long[] shape) {
        StringBuilder dims = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            dims.append(shape[i]).append(i == 0 && shape.length == 1 ? "," : i < shape.length - 1 ? ", " : "");
        }
        dims.append(')');
        String descr = dtype.npyDescr().orElseThrow(() -> new IllegalArgumentException(
                "NumPy has no " + dtype.cliName() + " dtype, so it cannot be written to .npy: choose another dtype"));
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + dims + ", }";
        int prefixV1 = NpyDescriptor.V1_HEADER_OFFSET;
        boolean v2 = prefixV1 + dict.length() + 1 > 65535;
        int prefix = v2 ? NpyDescriptor.V2_HEADER_OFFSET : prefixV1;
        int total = prefix + dict.length() + 1;
        int padded = (total + NpyDescriptor.DATA_ALIGNMENT - 1) / NpyDescriptor.DATA_ALIGNMENT * NpyDescriptor.DATA_ALIGNMENT;
        int headerLength = padded - prefix;
        ByteBuffer b = ByteBuffer.allocate(padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(NpyDescriptor.MAGIC).put((byte) (v2 ? 2 : 1)).put((byte) 0);
        if (v2) {
            b.putInt(headerLength);
        } else {
            b.putShort((short) headerLength);
        }
        b.put(dict.getBytes(StandardCharsets.US_ASCII));
        while (b.position() < padded - 1) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
