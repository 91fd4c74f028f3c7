package io.cubatch.store;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.CharacterCodingException;
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
 */
public final class JsonlReader {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNumberLength(400).build())
            .build();

    private JsonlReader() {
    }

    /** Counts from the first pass. */
    private record Shape(long samples, long values, long timesteps, int width, boolean floating) {
    }

    public static SampleStore open(Path file) throws IOException {
        Shape shape = scan(file);
        Arena arena = Arena.ofShared();
        try {
            DType dtype = shape.floating() ? DType.FLOAT64 : DType.INT64;
            MemorySegment values = arena.allocate(Math.max(8, shape.values() * 8), 16).asSlice(0, shape.values() * 8);
            MemorySegment offsets = arena.allocate((shape.samples() + 1) * 8, 8);
            fill(file, shape, values, offsets);
            long[] featureShape = shape.width() < 0 ? new long[0] : new long[] {shape.width()};
            return SampleStore.raggedFromComputedOffsets(dtype, featureShape, values, offsets, null, file + " (jsonl)", arena);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Lines as bytes, each decoded as strict UTF-8 on its own, so that a decoding error names its own
     * line (a decoding reader reads ahead and would blame an earlier one).
     */
    private static final class LineReader implements AutoCloseable {
        private final java.io.InputStream in;
        private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
        private final java.nio.charset.CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

        LineReader(Path file) throws IOException {
            in = new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 16);
        }

        /** The next line without its terminator ('\n' or "\r\n"); null at the end of the file. */
        String readLine() throws IOException {
            line.reset();
            int b;
            while ((b = in.read()) != -1 && b != '\n') {
                line.write(b);
            }
            if (b == -1 && line.size() == 0) {
                return null;
            }
            byte[] bytes = line.toByteArray();
            int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
            return utf8.decode(java.nio.ByteBuffer.wrap(bytes, 0, n)).toString();
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    private static LineReader reader(Path file) throws IOException {
        return new LineReader(file);
    }

    /** Pass 1: validates every line and counts samples, timesteps and values. */
    private static Shape scan(Path file) throws IOException {
        long samples = 0;
        long values = 0;
        long timesteps = 0;
        int width = Integer.MIN_VALUE; // unknown until the first non-empty line; -1 means scalars
        boolean floating = false;
        try (LineReader in = reader(file)) {
            String line;
            long lineNo = 0;
            while ((line = readLine(file, in, lineNo + 1)) != null) {
                lineNo++;
                Line l = parseLine(file, lineNo, line, width, null, false);
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
    private static void fill(Path file, Shape shape, MemorySegment values, MemorySegment offsets) throws IOException {
        long[] cursor = {0};
        long step = 0;
        long sample = 0;
        try (LineReader in = reader(file)) {
            String line;
            while ((line = readLine(file, in, sample + 1)) != null) {
                offsets.setAtIndex(ValueLayout.JAVA_LONG, sample, step);
                sample++;
                Line l = parseLine(file, sample, line, shape.width() < 0 ? -1 : shape.width(),
                        new Sink(values, cursor, shape.floating()), shape.floating());
                step += l.timesteps;
            }
        }
        if (sample != shape.samples() || step != shape.timesteps()) {
            throw new DatasetFormatException(file, "", "a file that changed while it was read",
                    "an unchanging file");
        }
        offsets.setAtIndex(ValueLayout.JAVA_LONG, sample, step);
    }

    private static String readLine(Path file, LineReader in, long lineNo) throws IOException {
        try {
            return in.readLine();
        } catch (CharacterCodingException e) {
            throw new DatasetFormatException(file, "line " + lineNo, "bytes that are not UTF-8", "UTF-8 text");
        }
    }

    private record Line(long timesteps, long values, int width, boolean floating) {
    }

    /** Where pass 2 writes values. */
    private record Sink(MemorySegment values, long[] cursor, boolean floating) {
        void add(JsonParser p) throws IOException {
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
    private static Line parseLine(Path file, long lineNo, String line, int width, Sink sink, boolean floating)
            throws IOException {
        String where = "line " + lineNo;
        if (line.isBlank()) {
            throw new DatasetFormatException(file, where, "an empty line", "one JSON array per line");
        }
        try (JsonParser p = FACTORY.createParser(line)) {
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
        } catch (JsonParseException e) {
            throw new DatasetFormatException(file, where + ", column " + e.getLocation().getColumnNr(),
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
            if (!Double.isFinite(p.getDoubleValue())) {
                throw new DatasetFormatException(file, where, "the number " + p.getText() + " (overflows float64)",
                        "a finite number");
            }
            return true;
        }
        throw new DatasetFormatException(file, where, describe(t, p), "a number");
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
