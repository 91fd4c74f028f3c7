package io.cubatch.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Writes files as a set: all of them appear, whole, or none does.
 * <p>
 * Each file is written to a temporary file beside its target, created with the process's umask (as any
 * program's new file; {@code Files.createTempFile} would give 0600), and synced. Only when every one is written
 * are they renamed over their targets. A failure while writing removes the temporaries and leaves the targets
 * as they were. A failure while renaming (only possible when the directory changes under us) puts back what
 * the earlier renames replaced: the files being replaced are kept as hard links until the set is complete (on
 * a file system without hard links, such a failure says which files it could not put back).
 * <p>
 * A target may be absent or a regular file, or a symbolic link to one (the file it points to is replaced, the
 * link kept). Anything else (a directory, a device such as {@code /dev/null}, a pipe, a dangling link) is
 * refused before anything is written: renaming over it would replace it.
 */
public final class FileSet {
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Renames a file over another; tests replace it to make a chosen rename fail. */
    interface Mover {
        void move(Path from, Path to) throws IOException;
    }

    static volatile Mover mover = FileSet::rename;

    private FileSet() {
    }

    /** Writes a file's bytes into the channel of its temporary file. */
    @FunctionalInterface
    public interface Content {
        /**
         * Writes the whole content from the channel's position 0; called once, on a fresh temporary file.
         *
         * @param channel the temporary file's channel, open for writing; not to be closed
         * @throws IOException when writing fails, which abandons the whole set
         */
        void writeTo(FileChannel channel) throws IOException;
    }

    /**
     * One file of a set: where it goes, and what it holds.
     *
     * @param target the final path; replaced if it is a regular file
     * @param content what to write into it
     */
    public record Entry(Path target, Content content) {
    }

    /**
     * Refuses a target that exists and is not a regular file; returns where the file will really be written
     * (the file a symbolic link points to, absolute). Callers that want to refuse before computing what to
     * write call it first; {@link #writeAll} calls it again.
     *
     * @param target the path a file of the set will be written to
     * @return the real path written: the link's target for a symbolic link, else the absolute normalised path
     * @throws IllegalArgumentException naming the target, what it is and the fix
     * @throws IOException when the real path of an existing file cannot be resolved
     */
    public static Path checkTarget(Path target) throws IOException {
        if (Files.isDirectory(target)) {
            throw new IllegalArgumentException(target + " is a directory: name a file (a new path, or a regular"
                    + " file to replace)");
        }
        if (Files.exists(target)) {
            if (!Files.isRegularFile(target)) {
                throw new IllegalArgumentException(target + " is a device, pipe or socket, not a regular file: it"
                        + " is not replaced; name a regular file or a new path");
            }
            return target.toRealPath();
        }
        if (Files.isSymbolicLink(target)) {
            throw new IllegalArgumentException(target + " is a symbolic link to nothing ("
                    + Files.readSymbolicLink(target) + "): remove it or name another path");
        }
        return target.toAbsolutePath().normalize();
    }

    /**
     * Writes every entry, or none: on any failure no target has changed and no temporary is left.
     *
     * @param entries the files to write; each target at most once
     * @throws IllegalArgumentException when a target is not a regular file, or two entries share one
     * @throws IOException              when a file cannot be written or renamed; nothing has changed then
     */
    public static void writeAll(List<Entry> entries) throws IOException {
        List<Path> targets = new ArrayList<>();
        for (Entry e : entries) {
            Path t = checkTarget(e.target());
            if (targets.contains(t)) {
                throw new IllegalArgumentException(e.target() + " is the target of two files of one set: give each"
                        + " its own path");
            }
            targets.add(t);
        }
        List<Path> temps = new ArrayList<>();
        boolean done = false;
        try {
            for (int i = 0; i < entries.size(); i++) {
                Path tmp = createTemp(targets.get(i));
                temps.add(tmp);
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    entries.get(i).content().writeTo(ch);
                    ch.force(false);
                }
            }
            commit(temps, targets);
            done = true;
        } finally {
            if (!done) {
                for (Path tmp : temps) {
                    deleteQuietly(tmp);
                }
            }
        }
    }

    /** A new empty file beside {@code target}, with the umask's mode. */
    private static Path createTemp(Path target) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = sibling(target, ".tmp");
            try {
                FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) {
                    throw e;
                }
            }
        }
    }

    private static Path sibling(Path target, String suffix) {
        return target.resolveSibling("." + target.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + suffix);
    }

    /** Renames each temporary over its target; on a failure, puts back what the earlier renames replaced. */
    private static void commit(List<Path> temps, List<Path> targets) throws IOException {
        int n = targets.size();
        boolean[] existed = new boolean[n];
        Path[] backups = new Path[n];
        try {
            for (int i = 0; i < n; i++) {
                existed[i] = Files.exists(targets.get(i));
                backups[i] = existed[i] ? backup(targets.get(i)) : null;
            }
            int renamed = 0;
            try {
                for (; renamed < n; renamed++) {
                    mover.move(temps.get(renamed), targets.get(renamed));
                }
            } catch (IOException | RuntimeException e) {
                List<Path> lost = new ArrayList<>();
                for (int i = 0; i < renamed; i++) {
                    try {
                        if (backups[i] != null) {
                            rename(backups[i], targets.get(i));     // the old file again
                            backups[i] = null;
                        } else if (!existed[i]) {
                            Files.deleteIfExists(targets.get(i));   // nothing new behind
                        } else {
                            lost.add(targets.get(i));               // replaced, and no hard link to restore
                        }
                    } catch (IOException restore) {
                        lost.add(targets.get(i));
                        e.addSuppressed(restore);
                    }
                }
                if (!lost.isEmpty()) {
                    throw new IOException("renaming " + temps.get(renamed) + " to " + targets.get(renamed) + " failed ("
                            + e.getMessage() + "), and the earlier files of the set " + lost
                            + " could not be put back", e);
                }
                throw e;
            }
            syncDirectories(targets);
        } finally {
            for (Path b : backups) {
                if (b != null) {
                    deleteQuietly(b);
                }
            }
        }
    }

    /** A hard link to {@code t} beside it, or null where the file system has none. */
    private static Path backup(Path t) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return Files.createLink(sibling(t, ".old"), t);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) {
                    throw e;
                }
            } catch (UnsupportedOperationException | IOException e) {
                return null;
            }
        }
    }

    static void rename(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Makes the renames durable where the platform can sync a directory; elsewhere a no-op. */
    private static void syncDirectories(List<Path> targets) {
        for (Path dir : new LinkedHashSet<>(targets.stream().map(Path::getParent).toList())) {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException | UnsupportedOperationException e) {
                // not supported here (e.g. Windows): the files themselves were synced
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // best effort: a hidden temporary or backup beside the target
        }
    }
}
