package io.cubatch.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Writes any {@link SampleStore} as a file set cubatch (and NumPy, or Megatron-LM) reads back: the inverse of
 * {@link Datasets#open}, for {@code cubatch convert}. Files appear whole or not at all ({@link FileSet}).
 * <ul>
 *   <li><b>.npy</b>, fixed store: one array {@code [N, L(, F...)]}.</li>
 *   <li><b>.npy</b>, ragged store: the <em>ragged .npy pair</em>, {@code NAME.npy} with the values
 *       {@code [T(, F...)]} (all samples back to back) and {@code NAME.offsets.npy} beside it with int64
 *       {@code [N + 1]} offsets (0 first, non-decreasing, last = T): sample {@code i} is
 *       {@code values[offsets[i]:offsets[i+1]]}. {@link NpyReader#open} reads the pair as a ragged store
 *       whenever {@code NAME.offsets.npy} exists. In NumPy: {@code np.split(values, offsets[1:-1])}.</li>
 *   <li><b>Megatron</b> ({@code PREFIX.idx} + {@code PREFIX.bin}, {@link MegatronIndexDescriptor}): scalar
 *       timesteps of a dtype Megatron has; its documents when the store has them, else one per sequence.</li>
 * </ul>
 * A chunked store (Arrow record batches) is written contiguous; its values are copied sample by sample,
 * straight from the mapping into the file.
 */
public final class DatasetWriter {
    private static final int CHUNK = 1 << 24;

    private DatasetWriter() {
    }

    /** What to write. */
    public enum Target {
        /** A {@code .npy} array, or for a ragged store the ragged {@code .npy} pair. */
        NPY,
        /** A Megatron-LM {@code PREFIX.idx} + {@code PREFIX.bin}. */
        MEGATRON
    }

    /**
     * The target {@code output} names: {@code .npy}, else Megatron ({@code .idx}, {@code .bin} or a prefix).
     *
     * @param output the output path
     * @return {@link Target#NPY} for a name ending in {@code .npy} (any case), else {@link Target#MEGATRON}
     */
    public static Target targetOf(Path output) {
        return output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy") ? Target.NPY : Target.MEGATRON;
    }

    /**
     * The offsets file of a ragged .npy pair: {@code NAME.offsets.npy} beside {@code NAME.npy}.
     *
     * @param npy the values file, {@code NAME.npy}
     * @return the path {@code NAME.offsets.npy} beside it (whether or not it exists)
     */
    public static Path offsetsOf(Path npy) {
        String name = npy.getFileName().toString();
        String stem = name.toLowerCase(Locale.ROOT).endsWith(".npy") ? name.substring(0, name.length() - 4) : name;
        return npy.resolveSibling(stem + ".offsets.npy");
    }

    /**
     * Writes {@code store} to {@code output} as {@code target}; returns the files written.
     *
     * @param store the store to write; read, not closed
     * @param output the {@code .npy} path, or the Megatron prefix (or its {@code .idx}/{@code .bin})
     * @param target the format to write
     * @return the files written: one {@code .npy}, a ragged pair, or the {@code .idx} and {@code .bin}
     * @throws IllegalArgumentException naming the store's dtype or shape when the target cannot hold it (Megatron:
     *                                  scalar timesteps of uint8, int8, int16, uint16, int32, int64, float32, float64)
     * @throws IOException when writing fails; no partial file is left under the final names
     */
    public static List<Path> write(SampleStore store, Path output, Target target) throws IOException {
        return target == Target.NPY ? writeNpy(store, output) : writeMegatron(store, output);
    }

    private static List<Path> writeNpy(SampleStore store, Path output) throws IOException {
        long[] fs = store.featureShape();
        long n = store.size();
        if (!store.isRagged()) {
            long[] shape = new long[2 + fs.length];
            shape[0] = n;
            shape[1] = n == 0 ? 0 : store.length(0);
            System.arraycopy(fs, 0, shape, 2, fs.length);
            long bytes = SampleStore.product(shape) * store.dtype().byteSize();
            NpyWriter.write(output, store.dtype(), shape, store.values().asSlice(0, bytes));
            // NAME.offsets.npy beside NAME.npy makes a ragged pair of it: one left by an earlier ragged write
            // would pair with this fixed array (read as broken or, worse, as other samples), so it goes
            Path staleOffsets = offsetsOf(output);
            if (Files.isRegularFile(staleOffsets, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.delete(staleOffsets);
            }
            return List.of(output);
        }
        long[] valuesShape = new long[1 + fs.length];
        valuesShape[0] = store.totalTimesteps();
        System.arraycopy(fs, 0, valuesShape, 1, fs.length);
        Path offsets = offsetsOf(output);
        byte[] valuesHeader = NpyWriter.header(store.dtype(), valuesShape);
        byte[] offsetsHeader = NpyWriter.header(DType.INT64, new long[] {n + 1});
        MemorySegment offsetData = store.offsets().orElseThrow();
        FileSet.writeAll(List.of(
                new FileSet.Entry(output, ch -> {
                    writeFully(ch, ByteBuffer.wrap(valuesHeader));
                    writeValues(store, ch);
                }),
                new FileSet.Entry(offsets, ch -> {
                    writeFully(ch, ByteBuffer.wrap(offsetsHeader));
                    writeSegment(ch, offsetData);
                })));
        return List.of(output, offsets);
    }

    private static List<Path> writeMegatron(SampleStore store, Path output) throws IOException {
        DType dtype = store.dtype();
        if (dtype.megatronCode() < 0) {
            throw new IllegalArgumentException("Megatron has no " + dtype.cliName() + " dtype: write .npy instead"
                    + " (--output NAME.npy), or a dataset of uint8, int8, int16, uint16, int32, int64, float32 or float64");
        }
        if (store.features() != 1 || store.featureShape().length != 0) {
            throw new IllegalArgumentException("Megatron holds scalar tokens, and " + store.source() + " has features "
                    + java.util.Arrays.toString(store.featureShape()) + " per timestep: write .npy instead (--output NAME.npy)");
        }
        long s = store.size();
        for (long i = 0; i < s; i++) {
            if (store.length(i) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("sample " + i + " has " + store.length(i) + " tokens, over Megatron's"
                        + " int32 length limit " + Integer.MAX_VALUE + ": write .npy instead (--output NAME.npy)");
            }
        }
        long[] docs = documents(store);
        long d = docs.length;
        Path prefix = MegatronReader.prefixOf(output);
        Path idx = prefix.resolveSibling(prefix.getFileName() + ".idx");
        Path bin = prefix.resolveSibling(prefix.getFileName() + ".bin");
        long indexBytes = MegatronIndexDescriptor.modesOffset(s, d);
        NativeMemory.require(indexBytes, () -> "the Megatron index of " + s + " sequences", "write .npy instead");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment index = arena.allocate(indexBytes, 8);
            ValueLayout.OfLong u64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            ValueLayout.OfInt i32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            MemorySegment.copy(MegatronIndexDescriptor.MAGIC, 0, index, ValueLayout.JAVA_BYTE, 0,
                    MegatronIndexDescriptor.MAGIC.length);
            index.set(u64, MegatronIndexDescriptor.VERSION_OFFSET, MegatronIndexDescriptor.VERSION);
            index.set(ValueLayout.JAVA_BYTE, MegatronIndexDescriptor.DTYPE_OFFSET, (byte) dtype.megatronCode());
            index.set(u64, MegatronIndexDescriptor.SEQUENCE_COUNT_OFFSET, s);
            index.set(u64, MegatronIndexDescriptor.DOCUMENT_COUNT_OFFSET, d);
            long pointers = MegatronIndexDescriptor.pointersOffset(s);
            long pointer = 0;
            for (long i = 0; i < s; i++) {
                index.set(i32, MegatronIndexDescriptor.lengthsOffset() + 4 * i, (int) store.length(i));
                index.set(u64, pointers + 8 * i, pointer);
                pointer += store.length(i) * dtype.byteSize();
            }
            long docIndex = MegatronIndexDescriptor.documentIndexOffset(s);
            for (int k = 0; k < d; k++) {
                index.set(u64, docIndex + 8L * k, docs[k]);
            }
            FileSet.writeAll(List.of(new FileSet.Entry(idx, ch -> writeSegment(ch, index)),
                    new FileSet.Entry(bin, ch -> writeValues(store, ch))));
        }
        return List.of(idx, bin);
    }

    /** The store's document index, or 0..S (one document per sequence) when it has none. */
    private static long[] documents(SampleStore store) {
        long s = store.size();
        if (store.documents().isPresent()) {
            long d = store.documents().getAsLong();
            long[] docs = new long[Math.toIntExact(d + 1)];
            for (int k = 0; k <= d; k++) {
                docs[k] = store.documentStart(k);
            }
            return docs;
        }
        long[] docs = new long[Math.toIntExact(s + 1)];
        for (int k = 0; k <= s; k++) {
            docs[k] = k;
        }
        return docs;
    }

    /** The samples' values back to back: one copy of the whole buffer when contiguous, else sample by sample. */
    private static void writeValues(SampleStore store, FileChannel ch) throws IOException {
        long step = store.features() * store.dtype().byteSize();
        if (store.isContiguous()) {
            writeSegment(ch, store.values().asSlice(0, store.totalTimesteps() * step));
            return;
        }
        for (long i = 0; i < store.size(); i++) {
            writeSegment(ch, store.sample(i));
        }
    }

    private static void writeSegment(FileChannel ch, MemorySegment data) throws IOException {
        for (long off = 0; off < data.byteSize(); off += CHUNK) {
            writeFully(ch, data.asSlice(off, Math.min(CHUNK, data.byteSize() - off)).asByteBuffer());
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
