package io.cubatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@code cubatch --version} prints the POM's version and the git commit the build was made from. */
class VersionTest {

    @Test
    void versionIsThePomsWithTheCommit() {
        String pom = System.getProperty("cubatch.pom.version");
        assertNotNull(pom, "surefire passes the POM's version as cubatch.pom.version");
        PlanCommandTest.Result r = PlanCommandTest.run("--version");
        assertEquals(0, r.code(), r.err());
        String line = r.out().strip();
        assertTrue(line.matches("cubatch \\Q" + pom + "\\E \\(commit ([0-9a-f]{12}|unknown)\\) on Java .+"), line);
        assertTrue(!line.contains("development build"), line);
    }

    @Test
    void theBuildRecordsTheCommitOfThisCheckout() throws Exception {
        java.util.Properties p = Main.Version.build();
        assertEquals(System.getProperty("cubatch.pom.version"), p.getProperty("version"));
        Process git = new ProcessBuilder("git", "rev-parse", "--short=12", "HEAD").redirectErrorStream(true).start();
        String head = new String(git.getInputStream().readAllBytes()).strip();
        if (git.waitFor() == 0) {
            assertEquals(head, p.getProperty("commit"), "built in a git checkout: the commit is HEAD's");
        } else {
            assertEquals("unknown", p.getProperty("commit"), "no git checkout here: " + head);
        }
    }
}
