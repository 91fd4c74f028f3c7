package io.cubatch.store;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Coverage-guided fuzzing of the four readers (Jazzer), each followed by padding what it read through the
 * native backend with hostile indices and options, checked against the java backend ({@link FuzzPad}).
 * Without {@code JAZZER_FUZZ} each method replays its inputs under
 * src/test/resources/io/cubatch/store/ReaderFuzzTestInputs/METHOD (seeds, valid files near the limits, and
 * every crash ever found); {@code ./fuzz} runs the bounded fuzzing sessions. A reader may only ever answer
 * with a store or a {@link DatasetFormatException}: any other exception or a JVM crash is a finding.
 *
 * <p>Two kinds of target. {@code npy}, {@code megatron}, {@code arrow} and {@code jsonl} take the file's bytes as they are,
 * with a dictionary of the tokens near the limits (dimensions of 2^31, 2^62 and 2^63 - 1, 20-digit
 * integers, 1e400), so that byte mutations reach them. {@code npyStructured} and {@code jsonlStructured}
 * build valid-looking files from the fuzzer's choices (a shape from edge dimensions, numbers of up to 600
 * digits), which is how an overflowing shape with a 0 in it, or a 500-digit number, is found in seconds
 * rather than never.
 */
class ReaderFuzzTest {
    /** Pads per input in the byte-array targets (their choices come from a generator seeded by the input). */
    private static final int PAD_ROUNDS = 4;

    /**
     * Reads every byte range a consumer would: each sample's first and last byte, of the first and last 1000
     * samples (a shape such as (2^62, 0) is valid and empty, and has more samples than a run can visit).
     */
    private static void touch(SampleStore s) {
        long n = s.size();
        for (long i = 0; i < n; i = i == 999 && n > 2000 ? n - 1000 : i + 1) {
            MemorySegment m = s.sample(i);
            if (m.byteSize() > 0) {
                m.get(ValueLayout.JAVA_BYTE, 0);
                m.get(ValueLayout.JAVA_BYTE, m.byteSize() - 1);
            }
        }
        if (s.documents().isPresent()) {
            for (long d = 0; d <= Math.min(s.documents().getAsLong(), 2000); d++) {
                s.documentStart(d);
            }
        }
    }

    @FuzzTest(maxDuration = "20s")
    @DictionaryEntries({"NUMPY", "{'descr': '", "'fortran_order': False", "'shape': (", "), }", "<i4", "<i8", "|b1", "<f2",
        "<u2", "|u1", "True", "0, ", ", 0", "9223372036854775807", "4611686018427387904", "2305843009213693952",
        "2147483648", "2147483647", "4294967296", "99999999999999999999"})
    void npy(byte[] file) {
        try (Arena arena = Arena.ofConfined()) {
            try (SampleStore s = NpyReader.read(Path.of("fuzz.npy"), FuzzPad.nativeCopy(file, arena), null)) {
                touch(s);
                FuzzPad.padHostile(s, FuzzPad.Choices.seededBy(file), PAD_ROUNDS);
            } catch (DatasetFormatException expected) {
                // the only acceptable failure
            }
        }
    }

    /**
     * Arrow IPC file or stream bytes; the first byte chooses the column (by name or by default) and whether
     * null rows are skipped, so that both paths and the column-not-found error are reached.
     */
    @FuzzTest(maxDuration = "20s")
    // ASCII only: libFuzzer's dictionary parser refuses the UTF-8 a non-ASCII char would become (the seeds hold
    // the 0xFFFFFFFF continuation markers)
    @DictionaryEntries({"ARROW1", "ARROW1\u0000\u0000", "input_ids", "item", "\u0000\u0000\u0000\u0000",
        "\u0008\u0000\u0000\u0000"})
    void arrow(byte[] input) {
        if (input.length < 1) {
            return;
        }
        ArrowReader.Options options = new ArrowReader.Options((input[0] & 1) == 0 ? null : "input_ids",
                (input[0] & 2) != 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment file = FuzzPad.nativeCopy(Arrays.copyOfRange(input, 1, input.length), arena);
            try (SampleStore s = ArrowReader.read(Path.of("fuzz.arrow"), file, null, options)) {
                touch(s);
                FuzzPad.padHostile(s, FuzzPad.Choices.seededBy(input), PAD_ROUNDS);
            } catch (DatasetFormatException expected) {
                // the only acceptable failure
            }
        }
    }

    @FuzzTest(maxDuration = "20s")
    @DictionaryEntries({"MMIDIDX", "\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0000", "\u0000\u0000\u0000\u0000"})
    void megatron(byte[] input) {
        // the first 4 bytes choose how much of the rest is the .idx; the remainder is the .bin
        if (input.length < 4) {
            return;
        }
        int split = Math.floorMod(((input[0] & 0xff) << 8 | (input[1] & 0xff)), input.length - 3);
        Arena arena = Arena.ofConfined();
        MemorySegment all = FuzzPad.nativeCopy(Arrays.copyOfRange(input, 4, input.length), arena);
        long cut = Math.min(split, all.byteSize());
        try (SampleStore s = MegatronReader.read(Path.of("fuzz.idx"), all.asSlice(0, cut), Path.of("fuzz.bin"),
                all.asSlice(cut), arena)) {
            touch(s);
            FuzzPad.padHostile(s, FuzzPad.Choices.seededBy(input), PAD_ROUNDS);
        } catch (DatasetFormatException expected) {
            // the only acceptable failure
        } finally {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }

    @FuzzTest(maxDuration = "20s")
    @DictionaryEntries({"9223372036854775807", "-9223372036854775808", "9223372036854775808", "1e400", "-1e400",
        "1.7976931348623157e308", "4.9e-324", "-0.0", "NaN", "Infinity", "[[", "]]", "], [", ", ",
        "12345678901234567890123456789012345678901234567890", "0.0000000000000000000000000000000000000001"})
    void jsonl(byte[] input) throws IOException {
        Path f = Files.createTempFile("fuzz", ".jsonl");
        try {
            Files.write(f, input);
            readAndPad(f, FuzzPad.Choices.seededBy(input), PAD_ROUNDS);
        } finally {
            Files.deleteIfExists(f);
        }
    }

    private static void readAndPad(Path f, FuzzPad.Choices c, int rounds) throws IOException {
        try (SampleStore s = JsonlReader.open(f)) {
            touch(s);
            FuzzPad.padHostile(s, c, rounds);
        } catch (DatasetFormatException expected) {
            // the only acceptable failure
        }
    }

    // ---- structured targets ----------------------------------------------------------------------------------

    private static final List<String> NPY_DESCRS = List.of("|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<i8", "<f2",
            "<f4", "<f8", "=i4", "|i4", ">i4", "<u4", "|O", "<c8", "", "<i4'", "V8");

    /**
     * A {@code .npy} file from choices: a plausible header (dtype, version, order, a shape of up to 5
     * dimensions drawn mostly from {@link FuzzPad#EDGE_LONGS}), with occasional damage, then data whose size
     * matches the shape when it is small, or not.
     */
    @FuzzTest(maxDuration = "20s")
    void npyStructured(FuzzedDataProvider d) {
        String descr = d.consumeInt(0, 7) == 0 ? d.pickValue(NPY_DESCRS) : d.pickValue(NPY_DESCRS.subList(0, 10));
        int ndim = d.consumeInt(0, 5);
        long[] shape = new long[ndim];
        StringBuilder dims = new StringBuilder("(");
        for (int i = 0; i < ndim; i++) {
            shape[i] = switch (d.consumeInt(0, 4)) {
                case 0 -> d.consumeLong(0, 4);
                case 1, 2 -> FuzzPad.EDGE_LONGS[d.consumeInt(0, FuzzPad.EDGE_LONGS.length - 1)];
                case 3 -> d.consumeLong(0, 1 << 20);
                default -> d.consumeLong();
            };
            dims.append(shape[i]).append(d.consumeInt(0, 15) == 0 ? "L" : "")
                    .append(ndim == 1 ? "," : i < ndim - 1 ? ", " : "");
        }
        dims.append(')');
        boolean fortran = d.consumeInt(0, 15) == 0;
        String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + dims
                + (d.consumeInt(0, 15) == 0 ? ", 'extra': 1" : "") + ", }";
        int version = d.consumeInt(1, 3);
        int prefix = version == 1 ? 10 : 12;
        int total = prefix + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        byte[] header = new byte[padded];
        byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0};
        System.arraycopy(magic, 0, header, 0, magic.length);
        int headerLength = padded - prefix;
        header[8] = (byte) headerLength;
        header[9] = (byte) (headerLength >>> 8);
        byte[] text = dict.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(text, 0, header, prefix, text.length);
        Arrays.fill(header, prefix + text.length, padded - 1, (byte) ' ');
        header[padded - 1] = '\n';
        long bytes = dataBytes(shape, descr);
        int length;
        if (bytes >= 0 && bytes <= 4096 && d.consumeInt(0, 7) != 0) {
            length = (int) bytes + (d.consumeInt(0, 7) == 0 ? d.consumeInt(-1, 1) : 0); // exact, or one byte off
        } else {
            length = d.consumeInt(0, 64);
        }
        byte[] data = Arrays.copyOf(d.consumeBytes(Math.max(0, length)), Math.max(0, length));
        byte[] file = Arrays.copyOf(header, header.length + data.length);
        System.arraycopy(data, 0, file, header.length, data.length);
        try (Arena arena = Arena.ofConfined()) {
            try (SampleStore s = NpyReader.read(Path.of("fuzz.npy"), FuzzPad.nativeCopy(file, arena), null)) {
                touch(s);
                FuzzPad.padHostile(s, FuzzPad.Choices.of(d), 2);
            } catch (DatasetFormatException expected) {
                // the only acceptable failure
            }
        }
    }

    /** The data size a shape implies for a descr's element size, or -1 when it overflows or the descr is unknown. */
    private static long dataBytes(long[] shape, String descr) {
        return DType.fromNpyDescr(descr).map(t -> {
            long p = t.byteSize();
            try {
                for (long dim : shape) {
                    p = Math.multiplyExact(p, dim);
                }
                return p;
            } catch (ArithmeticException e) {
                return -1L;
            }
        }).orElse(-1L);
    }

    private static final List<String> EDGE_NUMBERS = List.of("0", "-0", "-0.0", "1", "-1", "9223372036854775807",
            "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "1e308", "1.7976931348623157e308",
            "1.7976931348623159e308", "1e400", "-1e400", "4.9e-324", "1e-400", "2.5e-324", "65504", "65520", "3.4028235e38",
            "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "0x10", "1e", "--1", "1_000");

    /**
     * JSON Lines from choices: up to 6 lines of scalar or feature-vector samples whose numbers come from edge
     * values, random longs and doubles, or runs of 1 to 600 digits (integral or after "0."), with the odd
     * hostile line (blank, unclosed, an object, a string), CRLF or LF endings.
     */
    @FuzzTest(maxDuration = "20s")
    void jsonlStructured(FuzzedDataProvider d) throws IOException {
        StringBuilder text = new StringBuilder();
        int lines = d.consumeInt(0, 6);
        int width = d.consumeBoolean() ? 0 : d.consumeInt(1, 3);
        for (int l = 0; l < lines; l++) {
            switch (d.consumeInt(0, 15)) {
                case 0 -> text.append(d.pickValue(List.of("", " ", "[", "{}", "[\"a\"]", "[null]", "[[1, 2], 3]", "[] []", "[[[1]]]")));
                default -> {
                    text.append('[');
                    int steps = d.consumeInt(0, 8);
                    for (int t = 0; t < steps; t++) {
                        text.append(t == 0 ? "" : ", ");
                        if (width == 0) {
                            text.append(number(d));
                        } else {
                            text.append('[');
                            int w = d.consumeInt(0, 7) == 0 ? d.consumeInt(0, 4) : width;
                            for (int k = 0; k < w; k++) {
                                text.append(k == 0 ? "" : ", ").append(number(d));
                            }
                            text.append(']');
                        }
                    }
                    text.append(']');
                }
            }
            text.append(d.consumeInt(0, 7) == 0 ? "\r\n" : "\n");
        }
        Path f = Files.createTempFile("fuzz", ".jsonl");
        try {
            Files.writeString(f, text);
            readAndPad(f, FuzzPad.Choices.of(d), 2);
        } finally {
            Files.deleteIfExists(f);
        }
    }

    private static String number(FuzzedDataProvider d) {
        return switch (d.consumeInt(0, 9)) {
            case 0, 1 -> d.pickValue(EDGE_NUMBERS);
            case 2 -> Long.toString(d.consumeLong());
            case 3 -> Double.toString(d.consumeRegularDouble());
            case 4 -> digits(d, d.consumeInt(1, 600));
            case 5 -> "0." + digits(d, d.consumeInt(1, 600));
            case 6 -> (d.consumeBoolean() ? "-" : "") + digits(d, d.consumeInt(1, 30)) + "e" + d.consumeInt(-400, 400);
            default -> Integer.toString(d.consumeInt(-300, 300));
        };
    }

    private static String digits(FuzzedDataProvider d, int n) {
        StringBuilder b = new StringBuilder(n);
        b.append((char) ('1' + d.consumeInt(0, 8)));
        for (int i = 1; i < n; i++) {
            b.append((char) ('0' + (i * 7 + n) % 10));
        }
        return b.toString();
    }
}
