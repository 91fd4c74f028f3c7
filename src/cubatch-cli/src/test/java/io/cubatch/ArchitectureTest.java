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
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
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

    /** The module exports the API packages and nothing else: no internal package, not the CLI or the benchmarks. */
    @Test
    void theModuleExportsTheApiPackagesOnly() throws java.io.IOException {
        java.lang.module.ModuleDescriptor d;
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(
                java.nio.file.Path.of("target", "classes", "module-info.class"))) {
            d = java.lang.module.ModuleDescriptor.read(in);
        }
        assertEquals("io.cubatch", d.name());
        Set<String> exported = new TreeSet<>();
        for (java.lang.module.ModuleDescriptor.Exports e : d.exports()) {
            assertFalse(e.isQualified(), "qualified export " + e);
            exported.add(e.source());
        }
        assertEquals(Set.of("io.cubatch.collate", "io.cubatch.cuda", "io.cubatch.loader", "io.cubatch.plan",
                "io.cubatch.store"), exported);
        assertEquals(Set.of("io.cubatch.collate.internal.NativeBackendProvider",
                "io.cubatch.collate.internal.JavaBackendProvider", "io.cubatch.cuda.CudaBackendProvider"),
                Set.copyOf(d.provides().iterator().next().providers()));
    }
}
