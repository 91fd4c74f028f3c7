package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NpyWriter writes a set of files all or nothing, with the umask's mode, and never over a non-regular file. */
class NpyWriterTest {
    @TempDir
    Path dir;

    private static MemorySegment ints(Arena arena, int... v) {
        return arena.allocateFrom(ValueLayout.JAVA_INT, v);
    }

    private Set<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }

    @Test
    void aFailureOnTheThirdArrayLeavesNothingNewAndTheOldFilesAsTheyWere() throws IOException {
        Path a = dir.resolve("a.npy");
        byte[] old = "not replaced".getBytes();
        Files.write(a, old);
        Arena closed = Arena.ofConfined();
        MemorySegment gone = ints(closed, 7, 8);
        closed.close();                         // reading it fails: the third write fails midway through the set
        try (Arena arena = Arena.ofConfined()) {
            List<NpyWriter.Array> set = List.of(
                    new NpyWriter.Array(a, DType.INT32, new long[] {2}, ints(arena, 1, 2)),
                    new NpyWriter.Array(dir.resolve("b.npy"), DType.INT32, new long[] {2}, ints(arena, 3, 4)),
                    new NpyWriter.Array(dir.resolve("c.npy"), DType.INT32, new long[] {2}, gone));
            assertThrows(IllegalStateException.class, () -> NpyWriter.writeAll(set));
        }
        assertEquals(Set.of("a.npy"), names());
        assertArrayEquals(old, Files.readAllBytes(a));
    }

    @Test
    void filesGetTheModeTheUmaskGives() throws IOException {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"), "POSIX permissions");
        Path probe = Files.createFile(dir.resolve("probe"));    // what any new file gets here
        Set<PosixFilePermission> umaskMode = Files.getPosixFilePermissions(probe);
        Path out = dir.resolve("out.npy");
        try (Arena arena = Arena.ofConfined()) {
            NpyWriter.write(out, DType.INT32, new long[] {1}, ints(arena, 5));
        }
        assertEquals(umaskMode, Files.getPosixFilePermissions(out));
    }

    @Test
    void aDirectoryOrADeviceIsNotReplaced() throws IOException {
        Path d = Files.createDirectory(dir.resolve("d.npy"));
        try (Arena arena = Arena.ofConfined()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NpyWriter.write(d, DType.INT32, new long[] {1}, ints(arena, 5)));
            assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
            Path devNull = Path.of("/dev/null");
            if (Files.exists(devNull)) {
                Path link = Files.createSymbolicLink(dir.resolve("null.npy"), devNull);
                e = assertThrows(IllegalArgumentException.class,
                        () -> NpyWriter.write(link, DType.INT32, new long[] {1}, ints(arena, 5)));
                assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
                assertTrue(Files.isSymbolicLink(link));
            }
        }
        assertTrue(Files.isDirectory(d));
        assertEquals(Files.exists(Path.of("/dev/null")) ? Set.of("d.npy", "null.npy") : Set.of("d.npy"), names());
    }

    @Test
    void aSymbolicLinkToAFileKeepsTheLinkAndReplacesTheFile() throws IOException {
        Path real = dir.resolve("real.npy");
        Files.write(real, new byte[] {1});
        Path link = Files.createSymbolicLink(dir.resolve("link.npy"), real.getFileName());
        try (Arena arena = Arena.ofConfined()) {
            NpyWriter.write(link, DType.INT32, new long[] {1}, ints(arena, 5));
        }
        assertTrue(Files.isSymbolicLink(link));
        try (SampleStore s = NpyReader.open(real)) {
            assertEquals(5, s.values().get(ValueLayout.JAVA_INT, 0));
        }
        assertEquals(Set.of("link.npy", "real.npy"), names());
    }
}
