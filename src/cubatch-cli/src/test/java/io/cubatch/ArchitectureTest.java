package io.cubatch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.cubatch.collate.BackendProvider;
import io.cubatch.collate.Backends;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules, checked on the compiled classes (main and bench, not tests): the collation API knows
 * no backend (backends are {@link BackendProvider} plugins), no package reaches into another package's
 * {@code internal} package, and the top-level packages have no dependency cycle.
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        // main classes of every module (from this module's classes and the other modules' jars), no tests:
        // the other modules' test classes come in their test jars (*-tests.jar)
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("-tests.jar"))
                .importPackages("io.cubatch");
        assertFalse(classes.isEmpty(), "no classes imported");
    }

    @Test
    void collateKnowsNoBackendPackage() {
        noClasses().that().resideInAPackage("io.cubatch.collate..").should().dependOnClassesThat()
                .resideInAPackage("io.cubatch.cuda..")
                .because("backends are found through ServiceLoader (BackendProvider), not named by the collation API")
                .check(classes);
    }

    @Test
    void noPackageUsesAnotherPackagesInternals() {
        Set<String> owners = new TreeSet<>();
        Pattern internal = Pattern.compile("(io\\.cubatch\\.[a-z0-9_.]+?)\\.internal(\\..*)?");
        for (JavaClass c : classes) {
            Matcher m = internal.matcher(c.getPackageName());
            if (m.matches()) {
                owners.add(m.group(1));
            }
        }
        assertFalse(owners.isEmpty(), "found no internal package to check");
        for (String owner : owners) {
            noClasses().that().resideOutsideOfPackage(owner + "..").should().dependOnClassesThat()
                    .resideInAPackage(owner + ".internal..")
                    .because(owner + ".internal is that package's implementation, not an API")
                    .check(classes);
        }
    }

    @Test
    void topLevelPackagesHaveNoCycle() {
        slices().matching("io.cubatch.(*)..").should().beFreeOfCycles().check(classes);
    }

    @Test
    void theShippedBackendsArePlugins() {
        List<String> names = Backends.providers().stream().map(BackendProvider::name).toList();
        assertEquals(List.of("cuda", "native", "java"), names, "providers found by ServiceLoader, in listing order");
    }

    /** The library module exports the API packages and nothing else: no internal package, no backend in another module. */
    @Test
    void theLibraryModuleExportsTheApiPackagesOnly() throws Exception {
        java.lang.module.ModuleDescriptor d = descriptorOf(Backends.class);
        assertEquals("io.cubatch", d.name());
        assertEquals(Set.of("io.cubatch.collate", "io.cubatch.loader", "io.cubatch.plan", "io.cubatch.store"),
                unqualifiedExports(d));
        assertEquals(Set.of("java.base", "org.apache.arrow.format"), d.requires().stream()
                .filter(r -> !r.modifiers().contains(java.lang.module.ModuleDescriptor.Requires.Modifier.STATIC))
                .map(java.lang.module.ModuleDescriptor.Requires::name).collect(java.util.stream.Collectors.toSet()),
                "at run time the library requires the JDK and Arrow's metadata classes (Arrow input), nothing else");
        assertEquals(Set.of("com.fasterxml.jackson.core"), d.requires().stream()
                .filter(r -> r.modifiers().contains(java.lang.module.ModuleDescriptor.Requires.Modifier.STATIC))
                .map(java.lang.module.ModuleDescriptor.Requires::name).collect(java.util.stream.Collectors.toSet()),
                "only the JSONL parser is optional (requires static)");
        assertEquals(Set.of("io.cubatch.collate.internal.NativeBackendProvider",
                "io.cubatch.collate.internal.JavaBackendProvider"),
                Set.copyOf(d.provides().iterator().next().providers()));
    }

    /** The CUDA backend is its own module, which provides the cuda BackendProvider. */
    @Test
    void theCudaModuleExportsItsApiAndProvidesTheBackend() throws Exception {
        java.lang.module.ModuleDescriptor d = descriptorOf(io.cubatch.cuda.CudaBackendProvider.class);
        assertEquals("io.cubatch.cuda", d.name());
        assertEquals(Set.of("io.cubatch.cuda"), unqualifiedExports(d));
        assertEquals(1, d.provides().size());
        assertEquals(BackendProvider.class.getName(), d.provides().iterator().next().service());
        assertEquals(List.of("io.cubatch.cuda.CudaBackendProvider"), d.provides().iterator().next().providers());
    }

    private static Set<String> unqualifiedExports(java.lang.module.ModuleDescriptor d) {
        Set<String> exported = new TreeSet<>();
        for (java.lang.module.ModuleDescriptor.Exports e : d.exports()) {
            assertFalse(e.isQualified(), "qualified export " + e);
            exported.add(e.source());
        }
        return exported;
    }

    /** The module descriptor of the jar (or classes directory) that {@code c} was loaded from. */
    private static java.lang.module.ModuleDescriptor descriptorOf(Class<?> c) throws Exception {
        java.nio.file.Path where = java.nio.file.Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (java.nio.file.Files.isDirectory(where)) {
            try (java.io.InputStream in = java.nio.file.Files.newInputStream(where.resolve("module-info.class"))) {
                return java.lang.module.ModuleDescriptor.read(in);
            }
        }
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(where.toFile());
             java.io.InputStream in = jar.getInputStream(jar.getEntry("module-info.class"))) {
            return java.lang.module.ModuleDescriptor.read(in);
        }
    }
}
