package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rename phase of a set: a failed rename puts back what the earlier ones replaced, and removes what they added. */
class FileSetTest {
    @TempDir
    Path dir;

    @AfterEach
    void restoreMover() {
        FileSet.mover = FileSet::rename;
    }

    private static FileSet.Entry entry(Path target, String text) {
        return new FileSet.Entry(target, ch -> ch.write(ByteBuffer.wrap(text.getBytes())));
    }

    private Set<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    @Test
    void aFailedRenamePutsBackWhatTheEarlierRenamesReplaced() throws IOException {
        Path a = dir.resolve("a");
        Files.writeString(a, "old a");
        int[] moves = {0};
        FileSet.mover = (from, to) -> {
            if (++moves[0] == 3) {
                throw new IOException("injected: rename " + from + " failed");
            }
            FileSet.rename(from, to);
        };
        IOException e = assertThrows(IOException.class, () -> FileSet.writeAll(List.of(entry(a, "new a"),
                entry(dir.resolve("b"), "new b"), entry(dir.resolve("c"), "new c"))));
        assertTrue(e.getMessage().contains("injected"), e.getMessage());
        assertEquals(Set.of("a"), names());
        assertArrayEquals("old a".getBytes(), Files.readAllBytes(a));
        assertEquals(3, moves[0]);
    }

    @Test
    void aSetIsWrittenWholeAndLeavesNoTemporary() throws IOException {
        Path a = dir.resolve("a");
        Files.writeString(a, "old a");
        FileSet.writeAll(List.of(entry(a, "new a"), entry(dir.resolve("b"), "new b")));
        assertEquals(Set.of("a", "b"), names());
        assertEquals("new a", Files.readString(a));
        assertEquals("new b", Files.readString(dir.resolve("b")));
    }

    @Test
    void twoEntriesForOneFileAreRefusedBeforeWriting() {
        Path a = dir.resolve("a");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FileSet.writeAll(List.of(entry(a, "1"), entry(dir.resolve(".").resolve("a"), "2"))));
        assertTrue(e.getMessage().contains("two files of one set"), e.getMessage());
    }
}
