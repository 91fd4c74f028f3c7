package io.cubatch.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Arrow IPC fixtures written by the official Apache Arrow JavaScript package ({@code src/cubatch/src/test/arrow-js}:
 * {@code make-fixtures.mjs}, the version pinned by its {@code package-lock.json}), made once per build into
 * {@code src/cubatch/target/arrow-js}: {@code npm ci}, then {@code node make-fixtures.mjs out}. Node 20 and npm are
 * required (CI has them): without them the tests that use these fixtures fail, saying so; they never skip.
 */
public final class ArrowJsFixtures {
    /** The repository's root (Surefire runs each module in its own directory; the build passes the root). */
    private static final Path ROOT = Path.of(System.getProperty("cubatch.root", "../.."));
    private static final Path SOURCE = ROOT.resolve("src/cubatch/src/test/arrow-js");
    private static final Path WORK = ROOT.resolve("src/cubatch/target/arrow-js");
    private static final Path OUT = WORK.resolve("out");
    private static JsonNode expected;

    private ArrowJsFixtures() {
    }

    /** The directory holding the fixtures and {@code expected.json}, made on first use. */
    public static synchronized Path dir() throws IOException, InterruptedException {
        if (expected == null) {
            make();
            expected = new ObjectMapper().readTree(OUT.resolve("expected.json").toFile());
        }
        return OUT;
    }

    /** What Arrow JS read back from fixture {@code name}. */
    public static JsonNode expected(String name) throws IOException, InterruptedException {
        dir();
        JsonNode n = expected.get(name);
        if (n == null) {
            throw new IllegalStateException("no fixture " + name + " in " + OUT.resolve("expected.json"));
        }
        return n;
    }

    private static void make() throws IOException, InterruptedException {
        Files.createDirectories(WORK);
        boolean fresh = Files.exists(OUT.resolve("expected.json"));
        for (String f : List.of("package.json", "package-lock.json", "make-fixtures.mjs")) {
            Path from = SOURCE.resolve(f);
            Path to = WORK.resolve(f);
            if (!Files.exists(to) || Files.mismatch(from, to) != -1) {
                Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
                fresh = false;
            }
        }
        if (fresh) {
            return;
        }
        Path installed = WORK.resolve("installed-lock.json");   // the lock npm ci last installed
        if (!Files.exists(installed) || Files.mismatch(SOURCE.resolve("package-lock.json"), installed) != -1) {
            run(List.of("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"), 600);
            Files.copy(SOURCE.resolve("package-lock.json"), installed, StandardCopyOption.REPLACE_EXISTING);
        }
        run(List.of("node", "make-fixtures.mjs", "out"), 120);
    }

    private static void run(List<String> command, int seconds) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(command).directory(WORK.toFile()).redirectErrorStream(true)
                    .redirectOutput(WORK.resolve(command.getFirst() + ".log").toFile()).start();
        } catch (IOException e) {
            throw new IllegalStateException("the Arrow JS fixtures need Node.js 20 and npm on PATH (" + command.getFirst()
                    + ": " + e.getMessage() + "): install them (CI has them); these tests do not skip", e);
        }
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " in " + WORK + " took over " + seconds + " s");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " in " + WORK + " failed with exit code "
                    + p.exitValue() + ": " + Files.readString(WORK.resolve(command.getFirst() + ".log")));
        }
    }
}
