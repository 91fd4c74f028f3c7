package io.cubatch.store;

import static io.cubatch.store.MegatronIndexDescriptor.DOCUMENT_COUNT_OFFSET;
import static io.cubatch.store.MegatronIndexDescriptor.DTYPE_OFFSET;
import static io.cubatch.store.MegatronIndexDescriptor.HEADER_LENGTH;
import static io.cubatch.store.MegatronIndexDescriptor.MAGIC;
import static io.cubatch.store.MegatronIndexDescriptor.SEQUENCE_COUNT_OFFSET;
import static io.cubatch.store.MegatronIndexDescriptor.VERSION_OFFSET;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Memory-maps a Megatron-LM indexed dataset ({@code prefix.idx} + {@code prefix.bin}, layout in
 * {@link MegatronIndexDescriptor}) as a ragged {@link SampleStore} of its sequences, with its documents.
 * The tokens are not copied; the int64 offsets are computed from the validated lengths. Every count,
 * length, pointer and document index is checked before use.
 */
public final class MegatronReader {
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MegatronReader() {
    }

    /**
     * {@code path} without a trailing {@code .idx} or {@code .bin}: the dataset prefix.
     *
     * @param path a prefix, or its {@code .idx} or {@code .bin} file
     * @return the prefix (the same path when it has neither extension)
     */
    public static Path prefixOf(Path path) {
        String name = path.getFileName().toString();
        if (name.endsWith(".idx") || name.endsWith(".bin")) {
            return path.resolveSibling(name.substring(0, name.length() - 4));
        }
        return path;
    }

    /**
     * True when {@code path} names a Megatron dataset: a prefix (or its .idx/.bin) with both files present.
     *
     * @param path a prefix, or its {@code .idx} or {@code .bin} file
     * @return whether both {@code PREFIX.idx} and {@code PREFIX.bin} are regular files
     */
    public static boolean isDataset(Path path) {
        Path prefix = prefixOf(path);
        return Files.isRegularFile(sibling(prefix, ".idx")) && Files.isRegularFile(sibling(prefix, ".bin"));
    }

    /**
     * Maps the dataset at {@code path} (a prefix, or its .idx or .bin file).
     *
     * @param path a prefix, or its {@code .idx} or {@code .bin} file
     * @return the ragged store of the sequences, with the documents, owning both mappings; close it to unmap
     * @throws IOException when a file is missing or cannot be mapped, or is not valid ({@link DatasetFormatException})
     */
    public static SampleStore open(Path path) throws IOException {
        Path prefix = prefixOf(path);
        Path idx = sibling(prefix, ".idx");
        Path bin = sibling(prefix, ".bin");
        for (Path p : new Path[] {idx, bin}) {
            if (!Files.isRegularFile(p)) {
                throw new DatasetFormatException(p, "", "no such file",
                        "a Megatron dataset as a pair " + idx.getFileName() + " + " + bin.getFileName());
            }
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment index = map(idx, arena);
            MemorySegment tokens = map(bin, arena);
            MappedFile[] watched = {MappedFile.of(idx, index.byteSize()), MappedFile.of(bin, tokens.byteSize())};
            return read(idx, index, bin, tokens, arena).mapping(watched);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static MemorySegment map(Path p, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
    }

    static SampleStore read(Path idx, MemorySegment index, Path bin, MemorySegment tokens, Arena arena)
            throws DatasetFormatException {
        long size = index.byteSize();
        if (size < HEADER_LENGTH) {
            throw new DatasetFormatException(idx, "byte 0", "a file of " + size + " bytes",
                    "a " + HEADER_LENGTH + "-byte MMIDIDX header (truncated file?)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (index.get(ValueLayout.JAVA_BYTE, i) != MAGIC[i]) {
                throw new DatasetFormatException(idx, "byte " + i, "a magic that is not MMIDIDX\\0\\0",
                        "MMIDIDX\\0\\0: is this a Megatron-LM .idx file (MMapIndexedDataset)?");
            }
        }
        long version = index.get(U64, VERSION_OFFSET);
        if (version != MegatronIndexDescriptor.VERSION) {
            throw new DatasetFormatException(idx, "byte " + VERSION_OFFSET, "version " + Long.toUnsignedString(version),
                    "version 1");
        }
        int code = Byte.toUnsignedInt(index.get(ValueLayout.JAVA_BYTE, DTYPE_OFFSET));
        DType dtype = DType.fromMegatronCode(code).orElseThrow(() -> new DatasetFormatException(idx,
                "byte " + DTYPE_OFFSET, "dtype code " + code,
                "1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32 or 8 uint16"));
        long s = index.get(U64, SEQUENCE_COUNT_OFFSET);
        long d = index.get(U64, DOCUMENT_COUNT_OFFSET);
        long body = size - HEADER_LENGTH;
        if (s < 0 || s > body / 12) {
            throw new DatasetFormatException(idx, "byte " + SEQUENCE_COUNT_OFFSET, "sequence count "
                    + Long.toUnsignedString(s), "at most " + body / 12 + " for a " + size + "-byte index (12 bytes per sequence)");
        }
        if (d < 1 || d > (body - 12 * s) / 8) {
            throw new DatasetFormatException(idx, "byte " + DOCUMENT_COUNT_OFFSET, "document index count "
                    + Long.toUnsignedString(d), "1 to " + (body - 12 * s) / 8 + " (the index starts with 0)");
        }
        long modes = MegatronIndexDescriptor.modesOffset(s, d);
        if (size != modes && size != modes + s) {
            throw new DatasetFormatException(idx, "byte " + modes, (size - modes) + " bytes after the document index",
                    "0, or " + s + " bytes of int8 modes");
        }
        int itemsize = dtype.byteSize();
        long pointers = MegatronIndexDescriptor.pointersOffset(s);
        long sequences = s;
        NativeMemory.require((s + 1) * 8, () -> "the offsets of " + idx + " (" + sequences + " sequences, 8 bytes each)",
                "open a smaller dataset, or free memory");
        MemorySegment offsets = arena.allocate((s + 1) * 8, 8);
        long elements = 0;
        for (long i = 0; i < s; i++) {
            int length = index.get(I32, HEADER_LENGTH + 4 * i);
            if (length < 0) {
                throw new DatasetFormatException(idx, "byte " + (HEADER_LENGTH + 4 * i), "length[" + i + "] = " + length,
                        "a non-negative sequence length");
            }
            long pointer = index.get(U64, pointers + 8 * i);
            if (pointer != elements * itemsize) {
                throw new DatasetFormatException(idx, "byte " + (pointers + 8 * i), "pointer[" + i + "] = " + pointer,
                        (elements * itemsize) + " (pointers must be contiguous: pointer[i-1] + length[i-1] * "
                                + itemsize + ")");
            }
            offsets.setAtIndex(ValueLayout.JAVA_LONG, i, elements);
            elements += length;
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, s, elements);
        if (tokens.byteSize() != elements * itemsize) {
            throw new DatasetFormatException(bin, "byte " + Math.min(tokens.byteSize(), elements * itemsize),
                    "a file of " + tokens.byteSize() + " bytes", (elements * itemsize) + " bytes: " + elements + " "
                            + dtype.cliName() + " tokens as the index says"
                            + (tokens.byteSize() < elements * itemsize ? " (truncated file?)" : ""));
        }
        long docs = MegatronIndexDescriptor.documentIndexOffset(s);
        long previous = -1;
        for (long i = 0; i < d; i++) {
            long v = index.get(U64, docs + 8 * i);
            boolean bad = i == 0 ? v != 0 : v < previous || v > s || (i == d - 1 && v != s);
            if (bad) {
                throw new DatasetFormatException(idx, "byte " + (docs + 8 * i), "document_index[" + i + "] = " + v,
                        i == 0 ? "0" : i == d - 1 ? s + " (the sequence count)" : "a value in [" + previous + ", " + s + "]");
            }
            previous = v;
        }
        if (d == 1 && s != 0) {
            throw new DatasetFormatException(idx, "byte " + docs, "a document index [0] over " + s + " sequences",
                    "a last entry equal to the sequence count " + s);
        }
        MemorySegment documentIndex = index.asSlice(docs, 8 * d);
        return SampleStore.raggedFromComputedOffsets(dtype, new long[0], tokens, offsets, documentIndex,
                prefixOf(idx) + " (megatron)", arena);
    }

    private static Path sibling(Path prefix, String ext) {
        return prefix.resolveSibling(prefix.getFileName() + ext);
    }
}
