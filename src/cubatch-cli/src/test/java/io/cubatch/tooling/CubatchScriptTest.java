package io.cubatch.tooling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./cubatch} started by four ranks at once on a fresh clone: one builds, the others wait for it, all
 * run. The script is the repository's own, in a clone-like directory whose path has a space; Maven is a
 * stand-in that takes 2 s, fails when two builds overlap, and writes a small jar (main {@link Hello}), so the
 * test takes seconds instead of a real build's minutes. (A real run of 4 at once on a fresh clone is
 * described in README.md, "Running several ranks".)
 */
class CubatchScriptTest {
    @TempDir
    Path tmp;

    static final String FAKE_MVN = """
            #!/usr/bin/env bash
            # stand-in for Maven: counts its calls, fails when another build is running, writes a jar after 2 s
            set -u
            mkdir -p target src/cubatch-cli/target
            echo "$*" >> target/mvn-calls
            if ! mkdir target/mvn-running 2>/dev/null; then
              echo "fake mvn: another build is running in $PWD/target" >&2
              echo overlap >> target/overlaps
              exit 1
            fi
            sleep 2
            "$JAVA_HOME/bin/jar" --create --file src/cubatch-cli/target/cubatch.jar --main-class io.cubatch.tooling.Hello \\
                -C "$HELLO_CLASSES" io/cubatch/tooling/Hello.class || exit 1
            rmdir target/mvn-running
            """;

    static void script(Path p, String text) throws IOException {
        Files.writeString(p, text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    void fourRanksStartingAtOnceOnAFreshCloneBuildOnceAndAllRun() throws Exception {
        assumeTrue(new ProcessBuilder("sh", "-c", "command -v flock").start().waitFor() == 0,
                "flock (util-linux) is not installed: ./cubatch builds without a lock here");
        Path repo = Path.of(System.getProperty("cubatch.root"));   // the repository root (surefire sets it)
        Path clone = Files.createDirectories(tmp.resolve("a clone").resolve("cubatch"));
        Files.copy(repo.resolve("cubatch"), clone.resolve("cubatch"));
        Files.createDirectories(clone.resolve("scripts"));
        Files.copy(repo.resolve("scripts/jdk.sh"), clone.resolve("scripts/jdk.sh"));
        Files.writeString(clone.resolve("pom.xml"), "<project/>");
        Files.createDirectories(clone.resolve("src/cubatch-cli/src/main"));
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        script(bin.resolve("mvn"), FAKE_MVN);
        Path helloClasses = Path.of(Hello.class.getProtectionDomain().getCodeSource().getLocation().toURI());

        List<Process> ranks = new ArrayList<>();
        List<Path> outputs = new ArrayList<>();
        for (int rank = 0; rank < 4; rank++) {
            Path out = tmp.resolve("rank" + rank + ".log");
            ProcessBuilder pb = new ProcessBuilder("bash", clone.resolve("cubatch").toString(), "rank", String.valueOf(rank))
                    .directory(tmp.toFile()).redirectErrorStream(true).redirectOutput(out.toFile());
            pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            pb.environment().put("HELLO_CLASSES", helloClasses.toString());
            ranks.add(pb.start());
            outputs.add(out);
        }
        for (int rank = 0; rank < 4; rank++) {
            Process p = ranks.get(rank);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "rank " + rank + " did not end within 60 s");
            String out = Files.readString(outputs.get(rank), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), "rank " + rank + ":\n" + out);
            assertTrue(out.contains("hello rank " + rank), "rank " + rank + ":\n" + out);
        }
        Path target = clone.resolve("target");
        assertFalse(Files.exists(target.resolve("overlaps")), "two builds ran at once");
        assertEquals(1, Files.readAllLines(target.resolve("mvn-calls")).size(), "the jar is built once");
        // and the next start finds it fresh: no build, no wait
        ProcessBuilder next = new ProcessBuilder("bash", clone.resolve("cubatch").toString(), "again").redirectErrorStream(true);
        next.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        next.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process again = next.start();
        again.getOutputStream().close();
        String out = new String(again.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(again.waitFor(30, TimeUnit.SECONDS));
        assertEquals("hello again\n", out);
        assertEquals(1, Files.readAllLines(target.resolve("mvn-calls")).size());
    }
}
