//! The price of each fix: the recommendation, the price table and the cost plot, and no cost keys without cost data.

use crate::common::records::write_records;
use allocstorm::report::{self};
use serde_json::{json, Value};

use crate::fixtures::*;

#[test]
fn cost_data_gives_a_recommendation_a_price_table_and_the_cost_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = report_dir(&tmp, "cost");
    write_records(&dir, &with_cost());
    report::render(&dir).unwrap();

    let s = read_summary(&dir);
    assert_eq!(s["schema_version"], 1, "keys added, none changed");
    let c = &s["cost"];
    for key in [
        "reference",
        "budget",
        "latency_rate",
        "latency_rate_basis",
        "latency_rates",
        "processes",
        "connections",
        "warmup_s",
        "capacity_s",
        "latency_s",
        "latency_at",
        "nproc",
        "server_args",
        "recommendation",
    ] {
        assert!(c.get(key).is_some(), "cost has no {key}: {c}");
    }
    assert_eq!(c["reference"], "glibc");
    assert_eq!(c["budget"]["max_retention"], 0.1);
    assert_eq!(c["latency_rate"], 300.0);
    assert_eq!(c["latency_rates"][0]["runs"], 18);
    assert_eq!(
        c["server_args"],
        json!(["--listen", "127.0.0.1:0", "--workers", "4"])
    );

    let variant = |name: &str| -> Value {
        s["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    let bg = variant("jemalloc-bg");
    let bc = &bg["cost"];
    for key in [
        "apply_line",
        "runs",
        "capacity_rps",
        "latency_p50_ms",
        "latency_p99_ms",
        "server_cpu_s_per_1000",
        "server_system_s_per_1000",
        "minflt_per_response",
        "capacity_server_cores",
        "capacity_client_cores",
        "ratio_to_reference",
        "client_bound_runs",
        "client_bound",
        "latency_rates",
        "rate_above_capacity",
        "failures",
    ] {
        assert!(
            bc.get(key).is_some(),
            "jemalloc-bg's cost has no {key}: {bc}"
        );
    }
    // Paired per round: 0.93, 0.95, 0.97 of glibc's, whatever the machine did between rounds
    // (the medians' ratio would be 558 / 600 = 0.93).
    let ratio = &bc["ratio_to_reference"]["capacity_rps"];
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-9;
    assert!(close(&ratio["median"], 0.95), "{ratio}");
    assert!(
        close(&ratio["min"], 0.93) && close(&ratio["max"], 0.97),
        "{ratio}"
    );
    assert_eq!(ratio["n"], 3);
    assert!(close(&bc["capacity_rps"]["median"], 558.0), "{bc}");
    assert_eq!(bc["client_bound_runs"], 1);
    assert_eq!(bc["client_bound"][0]["run_index"], 0);
    assert_eq!(
        bc["apply_line"],
        "link jemalloc as the global allocator, with _RJEM_MALLOC_CONF=background_thread:true"
    );
    // mimalloc: three runs with a cost record, two measured; the stopped one said why.
    let mc = &variant("mimalloc")["cost"];
    assert_eq!(mc["runs"], 3);
    assert_eq!(mc["capacity_rps"]["n"], 2);
    assert_eq!(mc["ratio_to_reference"]["capacity_rps"]["n"], 2);
    assert_eq!(
        mc["failures"][0]["why"],
        "the capacity server did not answer"
    );
    // mmap64k's capacity (270, 405 and 216/s) was below the 300/s it was then driven at in
    // rounds 0 and 2.
    let over: Vec<Value> = variant("glibc-mmap64k")["cost"]["rate_above_capacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["run_index"].clone())
        .collect();
    assert_eq!(over, [0, 2]);

    let rec = &c["recommendation"];
    assert_eq!(rec["budget_stated"], true);
    assert_eq!(rec["cheapest"], "jemalloc-bg");
    let within: Vec<&str> = rec["within_budget"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(within, ["jemalloc-bg", "glibc-mmap64k"]);
    let over: Vec<&str> = rec["over_budget"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(over, ["glibc", "glibc-arena2", "jemalloc", "mimalloc"]);

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let at = |needle: &str| {
        md.find(needle)
            .unwrap_or_else(|| panic!("no {needle}: {md}"))
    };
    assert!(at("Variants:\n") < at("## Recommendation\n"));
    assert!(at("## Recommendation\n") < at("## Results\n"));
    assert!(
        md.contains("**Cheapest within the budget: `jemalloc-bg`**, applied with `link jemalloc as the global allocator, with _RJEM_MALLOC_CONF=background_thread:true`. Its price: 0.95× glibc's capacity (0.93–0.97 over 3 rounds)"),
        "{md}"
    );
    assert!(
        md.contains("Its capacity was the client's in 1 run (the client used 1.95 of the 2 cores its 2 processes can use): a lower bound of the client, not the server's."),
        "{md}"
    );
    assert!(
        md.contains("- `glibc` (the reference): retention 0.97 > 0.10 (0.96–0.97 over 3 runs); after drain 321.4 MiB > 64.0 MiB"),
        "{md}"
    );
    assert!(at("## The price of each fix\n") > at("## Results\n"));
    assert!(!md.contains("## Cost\n"), "{md}");
    assert!(
        md.contains("| jemalloc-bg | 3 | 558 ‡ | 0.95 (0.93–0.97) |"),
        "{md}"
    );
    assert!(md.contains("| mimalloc | 3 (2 measured) |"), "{md}");
    assert!(
        md.contains("`mimalloc` run 1: the capacity server did not answer"),
        "{md}"
    );

    let png = std::fs::read(dir.join("cost.png")).unwrap();
    assert_eq!(png_height(&png), 1300, "four panels, two by two");
    let svg = std::fs::read_to_string(dir.join("cost.svg")).unwrap();
    for name in [
        "capacity ÷ glibc",
        "p99 ÷ glibc",
        "faults per response, absolute",
    ] {
        assert!(svg.contains(name), "cost.svg has no {name}");
    }
}

#[test]
fn without_cost_data_no_cost_keys_and_no_recommendation() {
    let tmp = tempfile::tempdir().unwrap();
    write_records(tmp.path(), &realistic());
    report::render(tmp.path()).unwrap();
    let s = read_summary(tmp.path());
    assert!(s.get("cost").is_none(), "{}", s["cost"]);
    assert!(s["variants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v.get("cost").is_none()));
    let md = std::fs::read_to_string(tmp.path().join("report.md")).unwrap();
    assert!(!md.contains("## Recommendation") && !md.contains("## The price of each fix"));
    assert!(md.contains("## Cost\n"), "{md}");
    let png = std::fs::read(tmp.path().join("cost.png")).unwrap();
    assert_eq!(png_height(&png), 900);
}
