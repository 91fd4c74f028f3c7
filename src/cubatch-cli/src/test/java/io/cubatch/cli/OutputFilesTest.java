package io.cubatch.cli;

import static io.cubatch.cli.PlanCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where pad and bench write, and what they read: a directory, a device or the input itself as --output, a
 * directory as --input, are exit 2 with one line, and nothing is written or replaced.
 */
class OutputFilesTest {
    @TempDir
    Path dir;

    private Path jsonl() throws IOException {
        Path f = dir.resolve("in.jsonl");
        Files.writeString(f, "[1]\n[2, 3]\n");
        return f;
    }

    private static boolean isOther(Path p) throws IOException {
        return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class).isOther();
    }

    private Set<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static void assertOneLineExitTwo(PlanCommandTest.Result r, String... fragments) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("internal error"), r.err());
        for (String f : fragments) {
            assertTrue(r.err().contains(f), "missing '" + f + "' in " + r.err());
        }
    }

    private PlanCommandTest.Result pad(Path in, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("pad", "--input", in.toString(), "--padding", "post",
                "--dtype", "int32"));
        a.addAll(List.of(more));
        return run(a.toArray(String[]::new));
    }

    @Test
    void jsonOutputToADirectoryIsRefused() throws IOException {
        Path in = jsonl();
        Path d = Files.createDirectory(dir.resolve("out"));
        assertOneLineExitTwo(pad(in, "--output", d.toString()), "cubatch pad: --output " + d, "is a directory");
        assertEquals(Set.of("in.jsonl", "out"), names());
    }

    @Test
    void jsonOutputToAFullDeviceIsExitTwoNamingIt() throws IOException {
        assumeTrue(Files.exists(Path.of("/dev/full")), "/dev/full");
        assertOneLineExitTwo(pad(jsonl(), "--output", "/dev/full"), "cubatch pad: --output /dev/full",
                "No space left on device");
    }

    @Test
    void jsonOutputToADeviceIsWrittenInPlace() throws IOException {
        assumeTrue(Files.exists(Path.of("/dev/null")), "/dev/null");
        PlanCommandTest.Result r = pad(jsonl(), "--output", "/dev/null");
        assertEquals(0, r.code(), r.err());
        assertTrue(isOther(Path.of("/dev/null")));
    }

    @Test
    void jsonOutputOverTheInputIsRefused() throws IOException {
        Path in = jsonl();
        byte[] before = Files.readAllBytes(in);
        assertOneLineExitTwo(pad(in, "--output", in.toString()), "is the input dataset");
        assertArrayEquals(before, Files.readAllBytes(in));
        Path link = Files.createLink(dir.resolve("same.json"), in);   // another name, the same file
        assertOneLineExitTwo(pad(in, "--output", link.toString()), "is the input dataset");
        assertArrayEquals(before, Files.readAllBytes(in));
    }

    @Test
    void jsonOutputIsWrittenWholeWithTheUmaskMode() throws IOException {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"), "POSIX permissions");
        Set<PosixFilePermission> umaskMode = Files.getPosixFilePermissions(Files.createFile(dir.resolve("probe")));
        Path out = dir.resolve("out.json");
        Files.writeString(out, "old");
        PlanCommandTest.Result r = pad(jsonl(), "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.readString(out).startsWith("{\"shape\":[2,2]"), Files.readString(out));
        assertEquals(umaskMode, Files.getPosixFilePermissions(out));
        assertEquals(Set.of("in.jsonl", "out.json", "probe"), names());
    }

    @Test
    void npyOutputOverTheInputIsRefused() throws Exception {
        Path in = dir.resolve("data.npy");
        Files.copy(Path.of(OutputFilesTest.class.getResource("/fixtures/arange_int16.npy").toURI()), in);
        byte[] before = Files.readAllBytes(in);
        assertOneLineExitTwo(pad(in, "--format", "npy", "--output", in.toString()), "--output " + in,
                "is the input dataset");
        // a sibling that is the input: --output x.npy writes x.lengths.npy
        Path lengths = dir.resolve("x.lengths.npy");
        Files.copy(in, lengths);
        assertOneLineExitTwo(pad(lengths, "--format", "npy", "--output", dir.resolve("x.npy").toString()),
                "x.lengths.npy", "is the input dataset");
        assertArrayEquals(before, Files.readAllBytes(in));
        assertArrayEquals(before, Files.readAllBytes(lengths));
        assertEquals(Set.of("data.npy", "x.lengths.npy"), names());
    }

    @Test
    void npyOutputOverAMegatronInputIsRefused() throws Exception {
        for (String ext : List.of(".idx", ".bin")) {
            Files.copy(Path.of(OutputFilesTest.class.getResource("/fixtures/tiny" + ext).toURI()), dir.resolve("tiny" + ext));
        }
        byte[] before = Files.readAllBytes(dir.resolve("tiny.bin"));
        assertOneLineExitTwo(pad(dir.resolve("tiny"), "--format", "npy", "--output", dir.resolve("tiny.bin").toString()),
                "is the input dataset");
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("tiny.bin")));
    }

    @Test
    void npyOutputToANonRegularFileIsRefusedAndNothingIsWritten() throws Exception {
        Path in = jsonl();
        Path d = Files.createDirectory(dir.resolve("batch.npy"));
        assertOneLineExitTwo(pad(in, "--format", "npy", "--output", d.toString()), "is a directory");
        assertTrue(Files.isDirectory(d));
        // the third file of the set is a directory: the first two must not be written either
        Path mask = Files.createDirectory(dir.resolve("b.attention_mask.npy"));
        assertOneLineExitTwo(pad(in, "--format", "npy", "--output", dir.resolve("b.npy").toString()),
                "b.attention_mask.npy", "is a directory");
        assertEquals(Set.of("b.attention_mask.npy", "batch.npy", "in.jsonl"), names());
        assertTrue(Files.isDirectory(mask));
        // a fifo (where mkfifo exists) stays a fifo
        Path fifo = dir.resolve("f.npy");
        if (new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0) {
            assertOneLineExitTwo(pad(in, "--format", "npy", "--output", fifo.toString()), "not a regular file");
            assertTrue(isOther(fifo));
            assertFalse(Files.exists(dir.resolve("f.lengths.npy")));
        }
        if (Files.exists(Path.of("/dev/null"))) {
            Path link = Files.createSymbolicLink(dir.resolve("null.npy"), Path.of("/dev/null"));
            assertOneLineExitTwo(pad(in, "--format", "npy", "--output", link.toString()), "not a regular file");
            assertTrue(Files.isSymbolicLink(link));
        }
    }

    @Test
    void npyFilesGetTheUmaskMode() throws IOException {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"), "POSIX permissions");
        Set<PosixFilePermission> umaskMode = Files.getPosixFilePermissions(Files.createFile(dir.resolve("probe")));
        PlanCommandTest.Result r = pad(jsonl(), "--format", "npy", "--output", dir.resolve("b.npy").toString(),
                "--positions");
        assertEquals(0, r.code(), r.err());
        for (String n : List.of("b.npy", "b.lengths.npy", "b.attention_mask.npy", "b.position_ids.npy")) {
            assertEquals(umaskMode, Files.getPosixFilePermissions(dir.resolve(n)), n);
        }
        assertEquals(Set.of("b.attention_mask.npy", "b.lengths.npy", "b.npy", "b.position_ids.npy", "in.jsonl",
                "probe"), names());
    }

    @Test
    void aDirectoryAsInputIsExitTwoForEveryCommand() throws IOException {
        Path d = Files.createDirectory(dir.resolve("data.npy"));
        Path j = Files.createDirectory(dir.resolve("data.jsonl"));
        assertOneLineExitTwo(run("info", "--input", d.toString()), "data.npy", "a directory", "expected a regular file");
        assertOneLineExitTwo(pad(j), "data.jsonl", "a directory");
        PlanCommand.environment = java.util.Map.of();
        try {
            assertOneLineExitTwo(run("run", "--input", d.toString(), "--batch-size", "2"), "a directory");
        } finally {
            PlanCommand.environment = System.getenv();
        }
        assertOneLineExitTwo(run("info", "--input", dir.toString()), "a directory");
    }

    @Test
    void benchOutputThatIsAFileIsRefusedBeforeAnyBenchmarkRuns() throws IOException {
        Path f = Files.writeString(dir.resolve("results.txt"), "keep");
        long t0 = System.nanoTime();
        assertOneLineExitTwo(run("bench", "--output", f.toString()), "cubatch bench: --output " + f,
                "not a directory");
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "refused before running JMH");
        assertEquals("keep", Files.readString(f));
        if (Files.exists(Path.of("/dev/full"))) {
            assertOneLineExitTwo(run("bench", "--output", "/dev/full"), "not a directory");
        }
    }

    /** A stale NAME.offsets.npy beside the batch would make NAME.npy a (broken) ragged pair for every reader. */
    @Test
    void npyOutputOverARaggedPairsNameLeavesNoStaleOffsets() throws IOException {
        Path in = jsonl();
        Path out = dir.resolve("b.npy");
        assertEquals(0, run("convert", "--input", in.toString(), "--output", out.toString()).code());
        Files.writeString(dir.resolve("more.jsonl"), "[1, 2, 3, 4, 5]\n");
        PlanCommandTest.Result r = pad(dir.resolve("more.jsonl"), "--format", "npy", "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        assertFalse(Files.exists(dir.resolve("b.offsets.npy")), "stale offsets beside the padded batch");
        r = run("info", "--input", out.toString(), "--format", "json");
        assertEquals(0, r.code(), r.err());
        // the offsets of the input itself are never removed
        Path npy = dir.resolve("c.npy");
        assertEquals(0, run("convert", "--input", in.toString(), "--output", npy.toString()).code());
        Path link = dir.resolve("d.offsets.npy");
        Files.createLink(link, dir.resolve("c.offsets.npy"));
        assertOneLineExitTwo(pad(npy, "--format", "npy", "--output", dir.resolve("d.npy").toString()), "d.offsets.npy");
        assertTrue(Files.exists(dir.resolve("c.offsets.npy")));
    }
}
