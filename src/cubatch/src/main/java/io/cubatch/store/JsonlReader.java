package io.cubatch.store;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads JSON Lines: one JSON array per line, each line one sample. A line holds numbers (a sequence of
 * scalar timesteps, {@code [1, 2, 3]}) or arrays of numbers of one width F for every timestep of the file
 * (a sequence of feature vectors, {@code [[1, 2], [3, 4]]}); {@code []} is an empty sequence. Values are
 * stored as int64 when every number in the file is an integer, else float64. The file is parsed twice
 * (validate and count, then fill an exactly sized off-heap store), with jackson-core's streaming parser;
 * NaN, Infinity, strings, nulls, deeper nesting, blank lines and mixed widths are errors naming the line.
 *
 * <p>Limits, each an error naming the line and the value, never an {@code OutOfMemoryError}: a line holds at
 * most {@link #MAX_LINE_BYTES} bytes (refused once that many are read, before the rest), a number at most
 * {@link #MAX_NUMBER_CHARS} characters, and the off-heap store must fit the native memory available.
 */
public final class JsonlReader {
    /**
     * The longest line read, 256 MiB: about 30 million token ids per sample. A longer line is refused
     * once this many bytes are read, so a huge line costs at most this much heap; store longer
     * sequences as {@code .npy} or a Megatron dataset, which are mapped instead of parsed.
     */
    public static final int MAX_LINE_BYTES = 256 << 20;

    /** The longest number, in characters: enough for every int64 and every float64 in plain notation. */
    public static final int MAX_NUMBER_CHARS = 400;

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNumberLength(MAX_NUMBER_CHARS).build())
            .build();

    private JsonlReader() {
    }

    /** Counts from the first pass. */
    private record Shape(long samples, long values, long timesteps, int width, boolean floating) {
    }

    /**
     * Reads a JSON Lines file into an off-heap ragged store that owns its memory (a copy, not a mapping).
     *
     * @param file the {@code .jsonl} file
     * @return the store, of int64 or float64; close it to free the memory
     * @throws DatasetFormatException naming the line and the value, for malformed content or a limit passed
     * @throws InsufficientMemoryException when the store would not fit the native memory available
     * @throws IOException when the file cannot be read
     */
    public static SampleStore open(Path file) throws IOException {
        return open(file, MAX_LINE_BYTES);
    }

    /** {@link #open(Path)} with another line limit (tests). */
    static SampleStore open(Path file, int maxLineBytes) throws IOException {
        Shape shape = scan(file, maxLineBytes);
        long valueBytes = Math.multiplyExact(shape.values(), 8L);
        long offsetBytes = Math.multiplyExact(shape.samples() + 1, 8L);
        NativeMemory.require(Math.addExact(valueBytes, offsetBytes), () -> "reading " + file + " ("
                + shape.samples() + " samples, " + shape.values() + " values as 8-byte "
                + (shape.floating() ? "float64" : "int64") + ", plus offsets)",
                "split the file, or convert it to .npy or a Megatron dataset, which are mapped instead of copied");
        Arena arena = Arena.ofShared();
        try {
            DType dtype = shape.floating() ? DType.FLOAT64 : DType.INT64;
            MemorySegment values = arena.allocate(Math.max(8, valueBytes), 16).asSlice(0, valueBytes);
            MemorySegment offsets = arena.allocate(offsetBytes, 8);
            fill(file, shape, values, offsets, maxLineBytes);
            long[] featureShape = shape.width() < 0 ? new long[0] : new long[] {shape.width()};
            return SampleStore.raggedFromComputedOffsets(dtype, featureShape, values, offsets, null, file + " (jsonl)", arena);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Lines as bytes in one reused buffer, each checked as strict UTF-8 on its own, so that a decoding error
     * names its own line (a decoding reader reads ahead and would blame an earlier one). A line longer than
     * the limit is refused as soon as the limit is passed: it is never held whole.
     */
    private static final class LineReader implements AutoCloseable {
        private final Path file;
        private final InputStream in;
        private final int maxLineBytes;
        private final byte[] chunk = new byte[1 << 16];
        private int chunkPos;
        private int chunkEnd;
        private byte[] line = new byte[1 << 12];
        private int length;
        private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        private final CharBuffer decoded = CharBuffer.allocate(1 << 12);

        LineReader(Path file, int maxLineBytes) throws IOException {
            this.file = file;
            this.in = Files.newInputStream(file);
            this.maxLineBytes = maxLineBytes;
        }

        /**
         * Reads line {@code lineNo} without its terminator ('\n' or "\r\n") into {@link #bytes()}[0, {@link
         * #length()}); false at the end of the file.
         */
        boolean next(long lineNo) throws IOException {
            length = 0;
            boolean any = false;
            while (true) {
                if (chunkPos == chunkEnd) {
                    int n = in.read(chunk);
                    if (n < 0) {
                        break;
                    }
                    chunkPos = 0;
                    chunkEnd = n;
                }
                any = true;
                int from = chunkPos;
                while (chunkPos < chunkEnd && chunk[chunkPos] != '\n') {
                    chunkPos++;
                }
                append(from, chunkPos - from, lineNo);
                if (chunkPos < chunkEnd) {
                    chunkPos++; // the '\n'
                    break;
                }
            }
            if (!any) {
                return false;
            }
            if (length > 0 && line[length - 1] == '\r') {
                length--;
            }
            checkUtf8(lineNo);
            return true;
        }

        private void append(int from, int n, long lineNo) throws DatasetFormatException {
            if (n == 0) {
                return;
            }
            if ((long) length + n > maxLineBytes) {
                throw new DatasetFormatException(file, "line " + lineNo, "a line longer than " + maxLineBytes
                        + " bytes (refused after reading " + maxLineBytes + " of them)", "at most " + maxLineBytes
                        + " bytes per line (JsonlReader.MAX_LINE_BYTES): split the sample, or store long sequences as"
                        + " .npy or a Megatron dataset, which are mapped instead of parsed");
            }
            if (length + n > line.length) {
                int capacity = (int) Math.min(maxLineBytes, Math.max(length + (long) n, 2L * line.length));
                try {
                    line = java.util.Arrays.copyOf(line, capacity);
                } catch (OutOfMemoryError e) {
                    Runtime r = Runtime.getRuntime();
                    throw new DatasetFormatException(file, "line " + lineNo, "a line of more than " + length
                            + " bytes, whose buffer needs " + capacity + " bytes of heap while about "
                            + (r.maxMemory() - r.totalMemory() + r.freeMemory()) + " of the " + r.maxMemory()
                            + "-byte heap are free", "a larger heap (java -Xmx), or shorter lines");
                }
            }
            System.arraycopy(chunk, from, line, length, n);
            length += n;
        }

        /** Strict UTF-8 without a NUL byte (JSON has none outside escapes), decoded into a small reused buffer. */
        private void checkUtf8(long lineNo) throws DatasetFormatException {
            utf8.reset();
            ByteBuffer bytes = ByteBuffer.wrap(line, 0, length);
            while (true) {
                decoded.clear();
                CoderResult r = utf8.decode(bytes, decoded, true);
                if (r.isError()) {
                    throw new DatasetFormatException(file, "line " + lineNo, "bytes that are not UTF-8", "UTF-8 text");
                }
                if (r.isUnderflow()) {
                    break;
                }
            }
            decoded.clear();
            if (utf8.flush(decoded).isError()) {
                throw new DatasetFormatException(file, "line " + lineNo, "bytes that are not UTF-8", "UTF-8 text");
            }
            for (int i = 0; i < length; i++) {
                if (line[i] == 0) {
                    throw new DatasetFormatException(file, "line " + lineNo + ", column " + (i + 1), "a NUL byte",
                            "JSON text (a NUL byte is never valid JSON)");
                }
            }
        }

        byte[] bytes() {
            return line;
        }

        /** The number characters ({@code 0-9 + - . e E}) from byte {@code at} of the line. */
        String numberAt(int at) {
            int end = Math.max(0, at);
            while (end < length && "0123456789+-.eE".indexOf(line[end]) >= 0) {
                end++;
            }
            return at < 0 || at >= end ? "" : new String(line, at, end - at, StandardCharsets.US_ASCII);
        }

        int length() {
            return length;
        }

        /** True when the line is empty or only JSON whitespace. */
        boolean isBlank() {
            for (int i = 0; i < length; i++) {
                byte b = line[i];
                if (b != ' ' && b != '\t' && b != '\r') {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** Pass 1: validates every line and counts samples, timesteps and values. */
    private static Shape scan(Path file, int maxLineBytes) throws IOException {
        long samples = 0;
        long values = 0;
        long timesteps = 0;
        int width = Integer.MIN_VALUE; // unknown until the first non-empty line; -1 means scalars
        boolean floating = false;
        try (LineReader in = new LineReader(file, maxLineBytes)) {
            long lineNo = 0;
            while (in.next(lineNo + 1)) {
                lineNo++;
                Line l = parseLine(file, lineNo, in, width, null, false);
                if (l.timesteps > 0) {
                    width = l.width;
                }
                floating |= l.floating;
                samples++;
                timesteps += l.timesteps;
                values += l.values;
            }
        }
        return new Shape(samples, values, timesteps, width == Integer.MIN_VALUE ? -1 : width, floating);
    }

    /** Pass 2: writes the values and offsets. */
    private static void fill(Path file, Shape shape, MemorySegment values, MemorySegment offsets, int maxLineBytes)
            throws IOException {
        long[] cursor = {0};
        long step = 0;
        long sample = 0;
        try (LineReader in = new LineReader(file, maxLineBytes)) {
            while (in.next(sample + 1)) {
                if (sample == shape.samples()) {
                    throw new DatasetFormatException(file, "line " + (sample + 1), "a file that changed while it was read",
                            "an unchanging file");
                }
                offsets.setAtIndex(ValueLayout.JAVA_LONG, sample, step);
                sample++;
                Line l = parseLine(file, sample, in, shape.width() < 0 ? -1 : shape.width(),
                        new Sink(file, values, cursor, shape.floating(), shape.values()), shape.floating());
                step += l.timesteps;
            }
        }
        if (sample != shape.samples() || step != shape.timesteps()) {
            throw new DatasetFormatException(file, "", "a file that changed while it was read",
                    "an unchanging file");
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, sample, step);
    }

    private record Line(long timesteps, long values, int width, boolean floating) {
    }

    /** Where pass 2 writes values. */
    private record Sink(Path file, MemorySegment values, long[] cursor, boolean floating, long capacity) {
        void add(JsonParser p) throws IOException {
            if (cursor[0] == capacity) {
                throw new DatasetFormatException(file, "", "a file that changed while it was read", "an unchanging file");
            }
            long at = cursor[0]++ * 8;
            if (floating) {
                values.set(ValueLayout.JAVA_DOUBLE, at, p.getDoubleValue());
            } else {
                values.set(ValueLayout.JAVA_LONG, at, p.getLongValue());
            }
        }
    }

    /**
     * Parses one line. {@code width}: Integer.MIN_VALUE when not known yet, -1 for scalar timesteps,
     * else the feature width every timestep must have.
     */
    private static Line parseLine(Path file, long lineNo, LineReader line, int width, Sink sink, boolean floating)
            throws IOException {
        String where = "line " + lineNo;
        if (line.isBlank()) {
            throw new DatasetFormatException(file, where, "an empty line", "one JSON array per line");
        }
        // through a Reader: checked UTF-8 already, and no encoding detection (which reads a leading NUL as UTF-16)
        try (JsonParser p = FACTORY.createParser(new InputStreamReader(
                new ByteArrayInputStream(line.bytes(), 0, line.length()), StandardCharsets.UTF_8))) {
            return parseArray(file, where, p, width, sink, line);
        }
    }

    private static Line parseArray(Path file, String where, JsonParser p, int width, Sink sink, LineReader line)
            throws IOException {
        try {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new DatasetFormatException(file, where, describe(p.currentToken(), p) + " at the start",
                        "a JSON array of numbers, or of equal-length arrays of numbers");
            }
            long steps = 0;
            long values = 0;
            boolean isFloat = false;
            int lineWidth = width;
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t == null) {
                    throw new DatasetFormatException(file, where, "the end of the line inside an array", "a closing ']'");
                }
                if (t == JsonToken.START_ARRAY) {
                    if (lineWidth == -1) {
                        throw mixed(file, where, steps, "an array", "numbers, as in the earlier samples");
                    }
                    int n = 0;
                    JsonToken u;
                    while ((u = p.nextToken()) != JsonToken.END_ARRAY) {
                        if (u == null) {
                            throw new DatasetFormatException(file, where, "the end of the line inside an array", "a closing ']'");
                        }
                        isFloat |= number(file, where, u, p);
                        if (sink != null) {
                            sink.add(p);
                        }
                        n++;
                    }
                    if (n == 0) {
                        throw new DatasetFormatException(file, where, "an empty feature vector at timestep " + steps,
                                "at least one number per feature vector");
                    }
                    if (lineWidth == Integer.MIN_VALUE) {
                        lineWidth = n;
                    } else if (n != lineWidth) {
                        throw new DatasetFormatException(file, where, "a feature vector of " + n
                                + " values at timestep " + steps, lineWidth + " values, the width of the first"
                                + " feature vector of the file");
                    }
                    values += n;
                } else {
                    if (lineWidth >= 0) {
                        throw mixed(file, where, steps, describe(t, p), "a feature vector [..] of " + lineWidth + " numbers");
                    }
                    lineWidth = -1;
                    isFloat |= number(file, where, t, p);
                    if (sink != null) {
                        sink.add(p);
                    }
                    values++;
                }
                steps++;
            }
            if (p.nextToken() != null) {
                throw new DatasetFormatException(file, where, describe(p.currentToken(), p) + " after the array",
                        "one array per line");
            }
            return new Line(steps, values, lineWidth, isFloat);
        } catch (StreamConstraintsException e) {
            // thrown while the token is read: it starts at the token location; a number is ASCII, as is all
            // that may precede it on a line that is valid so far, so its column is its byte offset
            int column = p.currentTokenLocation().getColumnNr();
            String number = line.numberAt(column - 1);
            if (number.length() > MAX_NUMBER_CHARS) {
                throw numberTooLong(file, where, column, number);
            }
            throw new DatasetFormatException(file, where + ", column " + column, "JSON past a parser limit ("
                    + plain(e.getOriginalMessage()) + ")", "a JSON array of numbers");
        } catch (JsonProcessingException e) {
            int column = e.getLocation() != null ? e.getLocation().getColumnNr() : p.currentLocation().getColumnNr();
            throw new DatasetFormatException(file, where + ", column " + column,
                    "invalid JSON (" + plain(e.getOriginalMessage()) + ")", "a JSON array of numbers (no NaN or Infinity)");
        }
    }

    private static boolean number(Path file, String where, JsonToken t, JsonParser p) throws IOException {
        if (t == JsonToken.VALUE_NUMBER_INT) {
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw new DatasetFormatException(file, where, "the integer " + p.getText(), "a value that fits int64");
            }
            return false;
        }
        if (t == JsonToken.VALUE_NUMBER_FLOAT) {
            // Jackson's limit counts digits only: a float's point, sign and exponent can take it past the
            // characters MAX_NUMBER_CHARS promises
            if (p.getTextLength() > MAX_NUMBER_CHARS) {
                throw numberTooLong(file, where, p.currentTokenLocation().getColumnNr(), p.getText());
            }
            if (!Double.isFinite(p.getDoubleValue())) {
                throw new DatasetFormatException(file, where, "the number " + p.getText() + " (overflows float64)",
                        "a finite number");
            }
            return true;
        }
        throw new DatasetFormatException(file, where, describe(t, p), "a number");
    }

    private static DatasetFormatException numberTooLong(Path file, String where, int column, String number) {
        return new DatasetFormatException(file, where + ", column " + column, "a number of " + number.length()
                + " characters (" + abbreviate(number) + ")", "a number of at most " + MAX_NUMBER_CHARS
                + " characters (an int64, or a float64 such as 1.5e300)");
    }

    private static DatasetFormatException mixed(Path file, String where, long step, String found, String expected) {
        return new DatasetFormatException(file, where, found + " at timestep " + step, expected
                + " (every timestep of the file is a number, or every one a feature vector)");
    }

    private static String describe(JsonToken t, JsonParser p) throws IOException {
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "the string \"" + abbreviate(p.getText()) + "\"";
            case VALUE_NULL -> "null";
            case VALUE_TRUE, VALUE_FALSE -> "the boolean " + p.getText();
            default -> "'" + abbreviate(p.getText()) + "'";
        };
    }

    /** Jackson's message without its advice on parser settings and source locations, which do not help here. */
    private static String plain(String message) {
        for (String cut : new String[] {": enable `", " (start marker at", "\n at [Source"}) {
            int at = message.indexOf(cut);
            if (at >= 0) {
                message = message.substring(0, at);
            }
        }
        return message;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
