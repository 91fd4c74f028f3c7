package io.cubatch.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The summary chart: GB/s against batch size, one line per backend, for one workload (JFreeChart, headless). */
final class Chart {
    private Chart() {
    }

    static void write(Path png, List<Summary.Row> rows, String workload) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Map<String, XYSeries> series = new TreeMap<>();
        for (Summary.Row r : rows) {
            if (r.workload().equals(workload) && !Double.isNaN(r.gbps())) {
                series.computeIfAbsent(r.backend(), XYSeries::new).add(r.batchSize(), r.gbps());
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("cubatch: " + workload + " padding throughput",
                "batch size", "GB/s of output", data, PlotOrientation.VERTICAL, true, false, false);
        LogAxis x = new LogAxis("batch size");
        x.setBase(2);
        x.setStandardTickUnits(org.jfree.chart.axis.NumberAxis.createIntegerTickUnits());
        chart.getXYPlot().setDomainAxis(x);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, 900, 540);
    }
}
