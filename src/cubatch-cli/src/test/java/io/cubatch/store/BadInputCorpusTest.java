package io.cubatch.store;

import static io.cubatch.store.Fixtures.bad;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every file of src/test/resources/bad (made by make_bad.py; the Arrow ones by MakeArrowBadFiles) is rejected with a
 * {@link DatasetFormatException} that names the file, where, and what was found; and every file there has
 * a row here.
 */
class BadInputCorpusTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            npy_empty.npy                  | byte 0   | a file of 0 bytes
            npy_bad_magic.npy              | byte 5   | magic 93 4e 55 4d 50 58
            npy_version_9.npy              | byte 6   | format version 9.0
            npy_header_past_end.npy        | byte 8   | header length 4000 past the end
            npy_truncated_prefix.npy       | byte 0   | a file of 9 bytes
            npy_truncated_data.npy         | byte 128 | 92 data bytes
            npy_trailing_bytes.npy         | byte 128 | trailing bytes
            npy_shape_mismatch.npy         | byte 128 | 96 data bytes
            npy_fortran.npy                | byte 10  | 'fortran_order': True
            npy_bigendian.npy              | byte 10  | big-endian
            npy_object.npy                 | byte 10  | Python objects
            npy_uint32.npy                 | byte 10  | dtype '<u4'
            npy_structured.npy             | byte 20  | a structured dtype
            npy_unknown_key.npy            | byte 68  | key 'x'
            npy_missing_shape.npy          | byte 10  | a header without 'shape'
            npy_duplicate_key.npy          | byte 36  | a second 'descr'
            npy_negative_dim.npy           | byte 61  | '-'
            npy_overflow_shape.npy         | byte 10  | overflows 64 bits
            npy_huge_dim.npy               | byte 61  | dimension 99999999999999999999
            npy_zero_dims.npy              | byte 10  | a 0-dimensional array
            npy_huge_header_length.npy     | byte 8   | header length 4294967295
            npy_unterminated_dict.npy      | byte 127 | the end of the header
            npy_non_ascii_header.npy       | byte 10  | not ASCII
            mm_truncated_header.idx        | byte 0   | a file of 20 bytes
            mm_bad_magic.idx               | byte 6   | not MMIDIDX
            mm_version_2.idx               | byte 9   | version 2
            mm_dtype_9.idx                 | byte 17  | dtype code 9
            mm_sequence_count_huge.idx     | byte 18  | sequence count 2305843009213693952
            mm_sequence_count_negative.idx | byte 18  | sequence count 18446744073709551615
            mm_document_count_zero.idx     | byte 26  | document index count 0
            mm_negative_length.idx         | byte 38  | length[1] = -1
            mm_pointer_gap.idx             | byte 58  | pointer[1] = 8
            mm_bin_short.bin               | byte 10  | a file of 10 bytes
            mm_bin_long.bin                | byte 12  | a file of 14 bytes
            mm_document_index_decreasing.idx | byte 98 | document_index[2] = 2
            mm_document_index_last_wrong.idx | byte 98 | document_index[2] = 3
            mm_document_index_first_wrong.idx | byte 82 | document_index[0] = 1
            mm_trailing_bytes.idx          | byte 106 | 3 bytes after the document index
            jsonl_not_array.jsonl          | line 2   | an object at the start
            jsonl_string.jsonl             | line 1   | the string "2"
            jsonl_nan.jsonl                | line 2, column 8 | Non-standard token 'NaN'
            jsonl_ragged_features.jsonl    | line 2   | a feature vector of 1 values
            jsonl_mixed_scalars_then_vectors.jsonl | line 2 | an array at timestep 0
            jsonl_mixed_in_line.jsonl      | line 1   | '3' at timestep 1
            jsonl_blank_line.jsonl         | line 2   | an empty line
            jsonl_two_arrays.jsonl         | line 1   | an array after the array
            jsonl_unclosed.jsonl           | line 1, column 6 | Unexpected end-of-input
            jsonl_null.jsonl               | line 1   | null
            jsonl_big_integer.jsonl        | line 1   | the integer 99999999999999999999999
            jsonl_too_deep.jsonl           | line 1   | an array
            jsonl_bad_utf8.jsonl           | line 2   | not UTF-8
            jsonl_empty_vector.jsonl       | line 1   | an empty feature vector
            jsonl_float_overflow.jsonl     | line 1   | overflows float64
            jsonl_bare_number.jsonl        | line 1   | '42' at the start
            npy_empty_shape_overflow.npy   | byte 10  | shape [4611686018427387904, 4, 0] whose size overflows 64 bits
            npy_empty_features_overflow.npy | byte 10 | shape [0, 1, 4611686018427387904, 4] whose size overflows 64 bits
            jsonl_500_digits.jsonl         | line 2, column 5 | a number of 500 characters (1234567890123456789012345678901234567890...)
            jsonl_500_digit_float.jsonl    | line 1, column 2 | a number of 502 characters (0.12345678901234567890123456789012345678...)
            arrow_truncated_body.arrow     | byte 428 | metadata length 184
            arrow_file_no_trailing_magic.arrow | byte 889 | no trailing "ARROW1" magic
            arrow_metadata_length_huge.arrow | byte 4 | metadata length 2147483647
            arrow_metadata_length_negative.arrow | byte 4 | metadata length -8
            arrow_offsets_past_values.arrow | record batch 0 (byte 192) | offsets from 0 to 99
            arrow_offsets_decreasing.arrow | record batch 0 (byte 192) | offsets[2] = 3 after offsets[1] = 4
            arrow_footer_length_huge.arrow | byte 888 | footer length 898
            arrow_lz4.arrow                | record batch 0 (byte 192) | a body compressed with LZ4_FRAME
            arrow_null_row.arrow           | record batch 0 | row 1 of column 'input_ids' is null
            arrow_empty_stream.arrow       | byte 0   | an end-of-stream marker
            """)
    void rejectsWithFileWhereAndWhat(String name, String where, String found) {
        Path path = bad(name);
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> Datasets.open(path).close(),
                name);
        assertEquals(where, e.where(), name + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(found), name + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(e.file().getFileName().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("expected"), e.getMessage());
    }

    /** Every rejected corpus file through `cubatch pad`, on both host backends: exit 2, one line naming the file. */
    @Test
    void everyRejectedFileExitsTwoWithOneLineThroughTheCli() throws IOException {
        try (Stream<Path> s = Files.list(bad("make_bad.py").getParent())) {
            for (Path f : s.filter(p -> !p.toString().endsWith(".py") && !p.toString().endsWith(".bin")
                    && !ACCEPTED.contains(p.getFileName().toString())).sorted().toList()) {
                for (String backend : new String[] {"java", "native"}) {
                    assertUserError(cli("pad", "--input", f.toString(), "--padding", "post", "--dtype", "int64",
                            "--backend", backend), "pad", f.getFileName().toString().replaceAll("\\.idx$", ""));
                }
            }
        }
    }

    /** Exit code, stdout and stderr of one in-process CLI run. */
    record Cli(int code, String out, String err) {
    }

    static Cli cli(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = io.cubatch.cli.Main.execute(args, new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true));
        return new Cli(code, out.toString(), err.toString());
    }

    /** Exit 2 and one line on stderr, starting with the command, naming what is asked: no stack trace. */
    static String assertUserError(Cli r, String command, String... contains) {
        assertEquals(2, r.code(), r.err());
        String line = r.err().strip();
        assertTrue(line.startsWith("cubatch " + command + ": "), line);
        assertFalse(line.contains("\n"), "one line: " + line);
        assertFalse(line.contains("Exception") || line.contains("internal error") || line.contains("\tat "), line);
        for (String c : contains) {
            assertTrue(line.contains(c), line + " should contain " + c);
        }
        return line;
    }

    /**
     * Issue 14, items 3, 12 and 13: sizes no machine holds, or that overflow 64 bits or int32 lengths, are
     * refused before any allocation with exit 2, naming the bytes needed and available and the fix; never an
     * OutOfMemoryError or a wrapped length. (Items 1 and 7, threads and close, are not file inputs:
     * SharedCollatorForkedTest and CloseDuringUseTest cover them.)
     */
    @Test
    void padRefusesSizesBeforeAllocatingThem(@TempDir Path dir) throws IOException {
        Path in = dir.resolve("three.jsonl");
        Files.writeString(in, "[1, 2, 3]\n[4]\n[5, 6]\n");
        String[] common = {"pad", "--input", in.toString(), "--padding", "post", "--dtype", "int32", "--backend", "native"};
        assertUserError(cli(concat(common, "--maxlen", "1000000000000")), "pad",
                "a padded batch [3, 1000000000000] int32", "needs 15000000000012 bytes (13.6 TiB) of native memory",
                "available here: lower maxlen");
        assertUserError(cli(concat(common, "--maxlen", "9223372036854775807")), "pad",
                "a padded batch of [3, 9223372036854775807] int32 has more than 2^63 bytes: lower maxlen");
        String old = System.getProperty(NativeMemory.AVAILABLE_PROPERTY);
        System.setProperty(NativeMemory.AVAILABLE_PROPERTY, Long.toString(16L << 30));
        try {
            assertUserError(cli(concat(common, "--maxlen", "2000000000")), "pad", "needs 30000000012 bytes (27.9 GiB)",
                    "more than the 17179869184 bytes (16.0 GiB) available here");
        } finally {
            if (old == null) {
                System.clearProperty(NativeMemory.AVAILABLE_PROPERTY);
            } else {
                System.setProperty(NativeMemory.AVAILABLE_PROPERTY, old);
            }
        }
        // a 3 GB JSONL line (sparse): refused once the line limit is read, not an OutOfMemoryError
        Path line = dir.resolve("line.jsonl");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(line.toFile(), "rw")) {
            raf.write('[');
            raf.setLength(3_000_000_000L);
        }
        assertUserError(cli("pad", "--input", line.toString(), "--padding", "post", "--dtype", "int32"), "pad",
                "line.jsonl at line 1: a line longer than 268435456 bytes", "JsonlReader.MAX_LINE_BYTES");
        // a sequence of 2^31 + 10 timesteps (sparse .npy [1, 2147483658] int8): lengths would wrap (item 3)
        Path npy = dir.resolve("long.npy");
        byte[] header = NpyWriter.header(DType.INT8, new long[] {1, (1L << 31) + 10});
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(npy.toFile(), "rw")) {
            raf.write(header);
            raf.setLength(header.length + (1L << 31) + 10);
        }
        assertUserError(cli(concat(new String[] {"pad", "--input", npy.toString(), "--padding", "post", "--dtype", "int32",
                "--backend", "native"})), "pad", "sample 0 (batch row 0) has 2147483658 timesteps, more than 2147483647",
                "--maxlen L --truncating pre|post");
        // the corpus's hostile sizes through the CLI: exit 2 with the file and where
        for (String f : new String[] {"npy_empty_features_overflow.npy", "jsonl_500_digits.jsonl"}) {
            assertUserError(cli("pad", "--input", bad(f).toString(), "--padding", "post", "--dtype", "int32"), "pad", f);
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /**
     * Files of the corpus that are accepted, but read as NumPy reads them rather than as raw bytes (issue 14,
     * item 4): a bool array holding 2 or 255 pads as 1 on every host backend (BoolBytesTest: every backend
     * and dtype, cuda included).
     */
    static final Set<String> ACCEPTED = Set.of("npy_bool_bytes.npy");

    @Test
    void boolBytesPadAsNumPyReadsThem() throws IOException {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String backend : new String[] {"java", "native"}) {
            Cli r = cli("pad", "--input", bad("npy_bool_bytes.npy").toString(), "--padding", "post", "--dtype", "int32",
                    "--backend", backend);
            assertEquals(0, r.code(), r.err());
            assertEquals("[[0,1,1,1,1,0,1,1],[1,0,0,1,1,1,0,1]]", json.readTree(r.out()).get("data").toString(), backend);
            r = cli("pad", "--input", bad("npy_bool_bytes.npy").toString(), "--padding", "pre", "--dtype", "uint8",
                    "--maxlen", "10", "--backend", backend);
            assertEquals("[[0,0,0,1,1,1,1,0,1,1],[0,0,1,0,0,1,1,1,0,1]]", json.readTree(r.out()).get("data").toString(),
                    backend);
        }
    }

    @Test
    void everyCorpusFileHasARow() throws IOException {
        Set<String> listed = new TreeSet<>(ACCEPTED);
        String table = java.util.Arrays.stream(BadInputCorpusTest.class.getDeclaredMethods())
                .filter(m -> m.getName().equals("rejectsWithFileWhereAndWhat")).findFirst().orElseThrow()
                .getAnnotation(CsvSource.class).textBlock();
        for (String line : table.split("\n")) {
            if (!line.isBlank()) {
                String n = line.split("\\|")[0].trim();
                listed.add(n.replaceAll("\\.(idx|bin)$", ""));
            }
        }
        Set<String> files = new TreeSet<>();
        try (Stream<Path> s = Files.list(bad("make_bad.py").getParent())) {
            s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".py"))
                    .map(n -> n.replaceAll("\\.(idx|bin)$", "")).forEach(files::add);
        }
        assertEquals(files, listed);
    }

    /**
     * What is not a regular file (made here: git keeps neither directories nor devices) is refused by name before
     * any read: a directory was "No such device", exit 1, and /dev/zero as JSONL read forever.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            dir.npy        | dir.npy        | a directory
            dir.jsonl      | dir.jsonl      | a directory
            dirs.idx       | dirs.idx       | a directory
            plaindir       | plaindir       | a directory
            null.npy       | null.npy       | a device, pipe or socket
            zero.jsonl     | zero.jsonl     | a device, pipe or socket
            """)
    void aDatasetThatIsNotARegularFileIsRefusedByName(String name, String named, String found,
                                                      @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path p = dir.resolve(name);
        switch (name) {
            case "null.npy" -> {
                org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/dev/null")));
                Files.createSymbolicLink(p, Path.of("/dev/null"));
            }
            case "zero.jsonl" -> {
                org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/dev/zero")));
                Files.createSymbolicLink(p, Path.of("/dev/zero"));
            }
            case "dirs.idx" -> {
                Files.createDirectory(p);
                Files.createDirectory(dir.resolve("dirs.bin"));
            }
            default -> Files.createDirectory(p);
        }
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> Datasets.open(p).close(), name);
        assertTrue(e.getMessage().contains(named), e.getMessage());
        assertTrue(e.getMessage().contains(found), e.getMessage());
        assertTrue(e.getMessage().contains("expected a regular file"), e.getMessage());
    }
}
