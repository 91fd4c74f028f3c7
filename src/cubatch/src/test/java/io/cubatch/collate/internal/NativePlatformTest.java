package io.cubatch.collate.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * libcubatch is packaged for linux-x86_64 and linux-aarch64, the right one is chosen from the JVM's os.arch,
 * and any other platform gets the java backend with the reason stated.
 */
class NativePlatformTest {

    @ParameterizedTest
    @CsvSource({
        "Linux, amd64,   linux-x86_64",
        "Linux, x86_64,  linux-x86_64",
        "Linux, aarch64, linux-aarch64",
        "Linux, arm64,   linux-aarch64",
        "Linux, ppc64le, ''",
        "Linux, riscv64, ''",
        "Mac OS X, aarch64, ''",
        "Windows 11, amd64, ''",
    })
    void thePlatformComesFromOsNameAndArch(String os, String arch, String expected) {
        assertEquals(expected.isEmpty() ? Optional.empty() : Optional.of(expected), NativeLibrary.platform(os, arch));
    }

    @Test
    void anotherPlatformIsToldTheJavaBackendCollatesInstead() {
        String r = NativeLibrary.noLibraryReason("Mac OS X", "aarch64", Optional.empty());
        assertEquals("no native library for Mac OS X aarch64 (cubatch builds libcubatch for linux-x86_64 and"
                + " linux-aarch64): the java backend collates instead, with the same results", r);
        String missing = NativeLibrary.noLibraryReason("Linux", "aarch64",
                Optional.of("linux-aarch64 library not built: aarch64-linux-gnu-g++ not installed"));
        assertTrue(missing.startsWith("no native library packaged for linux-aarch64 (linux-aarch64 library not built:"),
                missing);
    }

    /** The build packages both, each an ELF shared object for its machine, unless it wrote why it could not. */
    @Test
    void bothLibrariesArePackagedForTheirMachines() throws IOException {
        assertEquals(62, elfMachine("linux-x86_64"), "EM_X86_64");
        Optional<String> note = NativeLibrary.buildNote("linux-aarch64");
        if (note.isEmpty()) {
            assertEquals(183, elfMachine("linux-aarch64"), "EM_AARCH64");
        } else {
            assertTrue(NativeLibrary.class.getResource("/io/cubatch/native/linux-aarch64/libcubatch.so") == null,
                    "a note says it was not built, yet it is there: " + note.get());
            assertTrue(note.get().startsWith("linux-aarch64 library not built: "), note.get());
        }
    }

    /** This machine's library is the one loaded. */
    @Test
    void thisMachinesLibraryLoads() {
        assertTrue(NativeLibrary.get().isPresent(), NativeLibrary.unavailableReason());
        assertEquals("", NativeLibrary.unavailableReason());
    }

    private static int elfMachine(String platform) throws IOException {
        try (InputStream in = NativeLibrary.class.getResourceAsStream("/io/cubatch/native/" + platform + "/libcubatch.so")) {
            assertTrue(in != null, platform + "/libcubatch.so is not packaged");
            byte[] h = in.readNBytes(20);
            assertEquals(0x7f, h[0]);
            assertEquals('E', h[1]);
            assertEquals('L', h[2]);
            assertEquals('F', h[3]);
            return (h[18] & 0xff) | (h[19] & 0xff) << 8;   // e_machine, little-endian on both
        }
    }
}
