package io.cubatch.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a C-order little-endian {@code .npy} file (format 1.0, or 2.0 when the header needs more than
 * 65535 bytes) that NumPy's {@code np.load} reads. The file appears whole or not at all: the bytes go to a
 * temporary file beside the target, which is then moved over it.
 */
public final class NpyWriter {
    private static final int CHUNK = 1 << 30;

    private NpyWriter() {
    }

    /**
     * @param target where the file goes; replaced if it exists
     * @param dtype  element type of {@code data}
     * @param shape  the array's shape; {@code product(shape) * itemsize} must equal {@code data.byteSize()}
     * @param data   the elements, C order, little-endian
     */
    public static void write(Path target, DType dtype, long[] shape, MemorySegment data) throws IOException {
        long expected = Math.multiplyExact(SampleStore.product(shape), dtype.byteSize());
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("data holds " + data.byteSize() + " bytes, shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype.cliName() + " needs " + expected);
        }
        byte[] header = header(dtype, shape);
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, ByteBuffer.wrap(header));
                for (long off = 0; off < data.byteSize(); off += CHUNK) {
                    writeFully(ch, data.asSlice(off, Math.min(CHUNK, data.byteSize() - off)).asByteBuffer());
                }
                ch.force(false);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            moved = true;
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
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
