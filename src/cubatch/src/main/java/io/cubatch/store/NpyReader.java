package io.cubatch.store;

import static io.cubatch.store.NpyDescriptor.HEADER_LENGTH_OFFSET;
import static io.cubatch.store.NpyDescriptor.MAGIC;
import static io.cubatch.store.NpyDescriptor.MAJOR_OFFSET;
import static io.cubatch.store.NpyDescriptor.MINOR_OFFSET;
import static io.cubatch.store.NpyDescriptor.V1_HEADER_OFFSET;
import static io.cubatch.store.NpyDescriptor.V2_HEADER_OFFSET;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Memory-maps a NumPy {@code .npy} file (layout in {@link NpyDescriptor}) as a fixed-shape
 * {@link SampleStore}, without copying: shape {@code [N]} gives N samples of one timestep, {@code [N, L]}
 * N samples of L scalar timesteps, {@code [N, L, F...]} N samples of L timesteps of {@code [F...]}
 * features. Every field is validated before any element is read; a bad file is a
 * {@link DatasetFormatException}, never a crash.
 */
public final class NpyReader {
    private NpyReader() {
    }

    /**
     * The parsed header: element type, shape, and where the data starts.
     *
     * @param dtype the element type, from {@code descr}
     * @param shape the array's shape, from {@code shape}
     * @param dataOffset the byte offset of the first element in the file
     * @param major the format's major version (1, 2 or 3)
     * @param minor the format's minor version, 0
     */
    public record Header(DType dtype, long[] shape, long dataOffset, int major, int minor) {
        /**
         * Elements in the array: the product of the shape.
         *
         * @return the element count, 1 for shape {@code []}
         */
        public long elements() {
            return SampleStore.product(shape);
        }
    }

    /**
     * Maps {@code file} and returns the store that owns the mapping. When {@code NAME.offsets.npy} exists beside
     * {@code NAME.npy}, the two are a ragged .npy pair ({@link DatasetWriter}): values {@code [T(, F...)]} and
     * int64 offsets {@code [N + 1]}, read as a ragged store.
     *
     * @param file the {@code .npy} file
     * @return the store, owning the mapping; close it to unmap
     * @throws IOException when the file cannot be mapped, or is not a valid {@code .npy} ({@link
     *     DatasetFormatException})
     */
    public static SampleStore open(Path file) throws IOException {
        Path offsetsFile = DatasetWriter.offsetsOf(file);
        if (!file.getFileName().toString().endsWith(".offsets.npy") && java.nio.file.Files.isRegularFile(offsetsFile)) {
            return openRagged(file, offsetsFile);
        }
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            MappedFile watched = MappedFile.of(file, mapped.byteSize());
            return read(file, mapped, arena).mapping(watched);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static SampleStore openRagged(Path file, Path offsetsFile) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment values;
            MemorySegment offsets;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                 FileChannel och = FileChannel.open(offsetsFile, StandardOpenOption.READ)) {
                values = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                offsets = och.map(FileChannel.MapMode.READ_ONLY, 0, och.size(), arena);
            }
            MappedFile[] watched = {MappedFile.of(file, values.byteSize()), MappedFile.of(offsetsFile, offsets.byteSize())};
            return readRagged(file, values, offsetsFile, offsets, arena).mapping(watched);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A ragged store over the two files of a ragged .npy pair, already in memory. */
    static SampleStore readRagged(Path file, MemorySegment values, Path offsetsFile, MemorySegment offsets, Arena owner)
            throws DatasetFormatException {
        Header v = readHeader(file, values);
        Header o = readHeader(offsetsFile, offsets);
        if (o.dtype() != DType.INT64 || o.shape().length != 1 || o.shape()[0] < 1) {
            throw new DatasetFormatException(offsetsFile, "", "offsets of dtype " + o.dtype().cliName() + " and shape "
                    + Arrays.toString(o.shape()), "int64 [N + 1] offsets of the ragged .npy pair " + file.getFileName()
                    + " + " + offsetsFile.getFileName() + " (or remove " + offsetsFile.getFileName() + " to read "
                    + file.getFileName() + " alone)");
        }
        if (v.shape().length < 1) {
            throw new DatasetFormatException(file, "", "a 0-d array", "values [T(, F...)] of a ragged .npy pair");
        }
        long t = v.shape()[0];
        long n = o.shape()[0] - 1;
        MemorySegment offsetData = offsets.asSlice(o.dataOffset(), 8 * (n + 1));
        long last = offsetData.get(ValueLayout.JAVA_LONG_UNALIGNED, 8 * n);
        if (last != t) {
            throw new DatasetFormatException(offsetsFile, "byte " + (o.dataOffset() + 8 * n), "last offset " + last,
                    t + ", the number of timesteps in " + file.getFileName());
        }
        long[] features = Arrays.copyOfRange(v.shape(), 1, v.shape().length);
        try {
            return SampleStore.ragged(v.dtype(), features, values.asSlice(v.dataOffset()), offsetData, null,
                    file + " (npy, ragged with " + offsetsFile.getFileName() + ")", owner);
        } catch (IllegalArgumentException e) {
            throw new DatasetFormatException(offsetsFile, "", e.getMessage(), "offsets from 0, non-decreasing, up to "
                    + t);
        }
    }

    /**
     * A store over the bytes of a {@code .npy} file already in memory; {@code owner} (null: the caller)
     * frees them when the store closes. Used by {@link #open} and by the fuzz tests.
     */
    static SampleStore read(Path file, MemorySegment bytes, Arena owner) throws DatasetFormatException {
        Header h = readHeader(file, bytes);
        long[] shape = h.shape();
        long timesteps = shape.length >= 2 ? shape[1] : 1;
        long[] features = shape.length > 2 ? Arrays.copyOfRange(shape, 2, shape.length) : new long[0];
        MemorySegment data = bytes.asSlice(h.dataOffset());
        return SampleStore.fixed(h.dtype(), shape[0], timesteps, features, data, file + " (npy)", owner);
    }

    /**
     * Parses and validates the header of a mapped {@code .npy} file, including its size against the shape.
     *
     * @param file the file's path, for messages
     * @param f the mapped file, from byte 0
     * @return the header
     * @throws DatasetFormatException naming the field, what was found and what was expected
     */
    public static Header readHeader(Path file, MemorySegment f) throws DatasetFormatException {
        long size = f.byteSize();
        if (size < V1_HEADER_OFFSET) {
            throw new DatasetFormatException(file, "byte 0", "a file of " + size + " bytes",
                    "at least " + V1_HEADER_OFFSET + " bytes of .npy prefix (truncated file?)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (f.get(ValueLayout.JAVA_BYTE, i) != MAGIC[i]) {
                throw new DatasetFormatException(file, "byte " + i, "magic " + hex(f, 0, MAGIC.length),
                        "the .npy magic 93 4e 55 4d 50 59 (\\x93NUMPY): is this a NumPy .npy file?");
            }
        }
        int major = Byte.toUnsignedInt(f.get(ValueLayout.JAVA_BYTE, MAJOR_OFFSET));
        int minor = Byte.toUnsignedInt(f.get(ValueLayout.JAVA_BYTE, MINOR_OFFSET));
        if (major < 1 || major > 3 || minor != 0) {
            throw new DatasetFormatException(file, "byte " + MAJOR_OFFSET, "format version " + major + "." + minor,
                    "version 1.0, 2.0 or 3.0");
        }
        int headerOffset = major == 1 ? V1_HEADER_OFFSET : V2_HEADER_OFFSET;
        if (size < headerOffset) {
            throw new DatasetFormatException(file, "byte " + HEADER_LENGTH_OFFSET, "a file of " + size + " bytes",
                    "a " + (headerOffset - HEADER_LENGTH_OFFSET) + "-byte header length (truncated file?)");
        }
        long headerLength = major == 1
                ? Short.toUnsignedInt(f.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), HEADER_LENGTH_OFFSET))
                : Integer.toUnsignedLong(f.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), HEADER_LENGTH_OFFSET));
        if (headerLength > NpyDescriptor.MAX_HEADER_LENGTH) {
            throw new DatasetFormatException(file, "byte " + HEADER_LENGTH_OFFSET, "header length " + headerLength,
                    "at most " + NpyDescriptor.MAX_HEADER_LENGTH + " bytes");
        }
        long dataOffset = headerOffset + headerLength;
        if (dataOffset > size) {
            throw new DatasetFormatException(file, "byte " + HEADER_LENGTH_OFFSET, "header length " + headerLength
                    + " past the end of a " + size + "-byte file", "a header that fits in the file (truncated file?)");
        }
        byte[] raw = f.asSlice(headerOffset, headerLength).toArray(ValueLayout.JAVA_BYTE);
        String text;
        try {
            text = (major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.US_ASCII).newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            throw new DatasetFormatException(file, "byte " + headerOffset, "header bytes that are not "
                    + (major == 3 ? "UTF-8" : "ASCII"), "a text header");
        }
        HeaderParser p = new HeaderParser(file, text, headerOffset);
        p.parse();
        DType dtype = DType.fromNpyDescr(p.descr).orElseThrow(() -> new DatasetFormatException(file,
                "byte " + headerOffset, "dtype '" + p.descr + "'" + describeUnsupported(p.descr),
                "one of |b1 |i1 |u1 <i2 <u2 <i4 <i8 <f2 <f4 <f8"));
        if (p.fortranOrder) {
            throw new DatasetFormatException(file, "byte " + headerOffset, "'fortran_order': True",
                    "C order: save np.ascontiguousarray(a) instead");
        }
        long[] shape = p.shape.stream().mapToLong(Long::longValue).toArray();
        if (shape.length == 0) {
            throw new DatasetFormatException(file, "byte " + headerOffset, "a 0-dimensional array (shape ())",
                    "at least one dimension: samples first");
        }
        long bytes = dataBytes(file, headerOffset, shape, dtype);
        if (size - dataOffset != bytes) {
            throw new DatasetFormatException(file, "byte " + dataOffset, (size - dataOffset) + " data bytes",
                    bytes + " bytes for shape " + Arrays.toString(shape) + " of " + dtype.cliName()
                            + (size - dataOffset < bytes ? " (truncated file?)" : " (trailing bytes after the array)"));
        }
        return new Header(dtype, shape, dataOffset, major, minor);
    }

    /**
     * The data size of {@code shape}, checked so that every partial product the store computes (samples x
     * timesteps, the feature product, ...) fits too: the dimensions without their zeros, times the element
     * size, must fit 63 bits, as NumPy requires ("array is too big") even when a 0 makes the array empty.
     */
    private static long dataBytes(Path file, int headerOffset, long[] shape, DType dtype)
            throws DatasetFormatException {
        long nonZero = dtype.byteSize();
        boolean empty = false;
        try {
            for (long d : shape) {
                if (d == 0) {
                    empty = true;
                } else {
                    nonZero = Math.multiplyExact(nonZero, d);
                }
            }
        } catch (ArithmeticException e) {
            throw new DatasetFormatException(file, "byte " + headerOffset, "shape " + Arrays.toString(shape)
                    + " whose size overflows 64 bits (its dimensions other than 0 times the " + dtype.byteSize()
                    + "-byte " + dtype.cliName() + " elements)", "a shape whose bytes fit in 63 bits and in the file");
        }
        return empty ? 0 : nonZero;
    }

    private static String describeUnsupported(String descr) {
        if (descr.startsWith(">")) {
            return ", big-endian: convert with a.astype(a.dtype.newbyteorder('<'))";
        }
        if (descr.contains("O")) {
            return ", Python objects: save a numeric array";
        }
        return ", not supported";
    }

    private static String hex(MemorySegment f, int from, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = from; i < from + n && i < f.byteSize(); i++) {
            b.append(String.format("%02x ", f.get(ValueLayout.JAVA_BYTE, i)));
        }
        return b.toString().trim();
    }

    /**
     * A strict parser for the one dict literal .npy headers hold: exactly the keys descr, fortran_order and
     * shape; string, boolean and tuple-of-integer values. Anything else is an error naming the byte.
     */
    private static final class HeaderParser {
        private final Path file;
        private final String s;
        private final int base;
        private int i;
        String descr;
        Boolean fortranOrder;
        List<Long> shape;

        HeaderParser(Path file, String s, int base) {
            this.file = file;
            this.s = s;
            this.base = base;
        }

        void parse() throws DatasetFormatException {
            ws();
            expect('{');
            ws();
            while (peek() != '}') {
                int keyStart = i;
                String key = string();
                ws();
                expect(':');
                ws();
                switch (key) {
                    case "descr" -> {
                        checkDuplicate(descr, key);
                        if (peek() == '[') {
                            throw error("a structured dtype", "a plain numeric dtype such as '<f4'");
                        }
                        descr = string();
                    }
                    case "fortran_order" -> {
                        checkDuplicate(fortranOrder, key);
                        fortranOrder = bool();
                    }
                    case "shape" -> {
                        checkDuplicate(shape, key);
                        shape = tuple();
                    }
                    default -> {
                        i = keyStart;
                        throw error("key '" + key + "'", "only 'descr', 'fortran_order' and 'shape'");
                    }
                }
                ws();
                if (peek() == ',') {
                    i++;
                    ws();
                } else if (peek() != '}') {
                    throw error(found(), "',' or '}'");
                }
            }
            i++;
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n' || s.charAt(i) == '\0')) {
                i++;
            }
            if (i != s.length()) {
                throw error(found(), "only padding after the header dict");
            }
            if (descr == null || fortranOrder == null || shape == null) {
                throw new DatasetFormatException(file, "byte " + base, "a header without "
                        + (descr == null ? "'descr'" : fortranOrder == null ? "'fortran_order'" : "'shape'"),
                        "the keys 'descr', 'fortran_order' and 'shape'");
            }
        }

        private void checkDuplicate(Object value, String key) throws DatasetFormatException {
            if (value != null) {
                throw error("a second '" + key + "'", "each key once");
            }
        }

        private String string() throws DatasetFormatException {
            char q = peek();
            if (q != '\'' && q != '"') {
                throw error(found(), "a quoted string");
            }
            int end = s.indexOf(q, i + 1);
            if (end < 0 || s.substring(i + 1, end).indexOf('\\') >= 0) {
                throw error("an unterminated or escaped string", "a plain quoted string");
            }
            String out = s.substring(i + 1, end);
            i = end + 1;
            return out;
        }

        private boolean bool() throws DatasetFormatException {
            if (s.startsWith("True", i)) {
                i += 4;
                return true;
            }
            if (s.startsWith("False", i)) {
                i += 5;
                return false;
            }
            throw error(found(), "True or False");
        }

        private List<Long> tuple() throws DatasetFormatException {
            expect('(');
            List<Long> dims = new ArrayList<>();
            ws();
            while (peek() != ')') {
                int start = i;
                while (i < s.length() && Character.isDigit(s.charAt(i)) && s.charAt(i) < 128) {
                    i++;
                }
                if (i == start) {
                    throw error(found(), "a non-negative integer dimension");
                }
                try {
                    dims.add(Long.parseLong(s.substring(start, i)));
                } catch (NumberFormatException e) {
                    String digits = s.substring(start, i);
                    i = start;
                    throw error("dimension " + digits, "a dimension below 2^63");
                }
                if (peek() == 'L') {
                    i++; // Python 2 long literal
                }
                ws();
                if (peek() == ',') {
                    i++;
                    ws();
                } else if (peek() != ')') {
                    throw error(found(), "',' or ')' in the shape");
                }
            }
            i++;
            return dims;
        }

        private void ws() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
                i++;
            }
        }

        private char peek() throws DatasetFormatException {
            if (i >= s.length()) {
                throw new DatasetFormatException(file, "byte " + (base + i), "the end of the header",
                        "a complete header dict");
            }
            return s.charAt(i);
        }

        private void expect(char c) throws DatasetFormatException {
            if (peek() != c) {
                throw error(found(), "'" + c + "'");
            }
            i++;
        }

        private String found() {
            return i >= s.length() || s.charAt(i) == '\n' ? "the end of the header" : "'" + s.charAt(i) + "'";
        }

        private DatasetFormatException error(String found, String expected) {
            return new DatasetFormatException(file, "byte " + (base + i), found + " in the header", expected);
        }
    }
}
