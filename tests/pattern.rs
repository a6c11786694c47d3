//! The pattern grammar of DESIGN.md 2: round trips, densities and every class of bad input.

use highlight_emu::pattern::{Pattern, PatternError};
use proptest::prelude::*;

fn rank_name() -> impl Strategy<Value = String> {
    "[A-Za-z]{1,3}[0-9]{0,2}"
}

fn pattern() -> impl Strategy<Value = Pattern> {
    let ruled = prop::collection::vec(
        (rank_name(), 1u32..=16, 0u32..=16).prop_map(|(name, h, g)| highlight_emu::pattern::RuledRank {
            name,
            g: g.clamp(1, h),
            h,
        }),
        0..=4,
    );
    let prefix = prop::collection::vec(
        (rank_name(), any::<bool>())
            .prop_map(|(name, unconstrained)| highlight_emu::pattern::Rank { name, unconstrained }),
        0..=3,
    );
    prop_oneof![
        Just(Pattern::Dense),
        (1e-6f64..=1.0).prop_map(|density| Pattern::Unstructured { density }),
        (prefix, ruled)
            .prop_filter("a pattern has at least one rank", |(p, r)| !p.is_empty() || !r.is_empty())
            .prop_map(|(prefix, ruled)| Pattern::Hss { prefix, ruled }),
    ]
}

proptest! {
    #[test]
    fn parse_display_parse_is_identity(p in pattern()) {
        let text = p.to_string();
        let parsed = Pattern::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &p);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn hss_density_is_product_of_ruled_ranks(p in pattern()) {
        if let (Pattern::Hss { prefix, ruled }, Some(d)) = (&p, p.density()) {
            prop_assert!(prefix.iter().all(|r| !r.unconstrained));
            let expected: f64 = ruled.iter().map(|r| r.g as f64 / r.h as f64).product();
            prop_assert_eq!(d, expected);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        let _ = Pattern::parse(&text);
    }
}

#[test]
fn paper_examples() {
    let fig5 = Pattern::parse("RS->C2->C1(3:4)->C0(2:4)").unwrap();
    assert_eq!(fig5.density(), Some(0.375));
    let two_four = Pattern::parse(" K0 ( 2 : 4 ) ").unwrap();
    assert_eq!(two_four.to_string(), "K0(2:4)");
    assert_eq!(Pattern::parse("C1(2:4) → C0(2:4)").unwrap().to_string(), "C1(2:4)->C0(2:4)");
    assert_eq!(Pattern::parse("C0(4:8)").unwrap().density(), Some(0.5));
    assert_eq!(Pattern::parse("unstructured(0.25)").unwrap().density(), Some(0.25));
    assert_eq!(Pattern::parse("DENSE").unwrap(), Pattern::Dense);
    assert_eq!(Pattern::parse("C1(4:4)->C0(2:4)").unwrap().density(), Some(0.5));
}

/// Each bad-input class names the offending text and offers an accepted form.
#[test]
fn bad_input_classes() {
    let cases: &[(&str, PatternError, &str)] = &[
        ("C1(5:4)->C0(2:4)", PatternError::GAboveH("C1(5:4)".into()), "G > H in \"C1(5:4)\""),
        ("C0(0:4)", PatternError::ZeroG("C0(0:4)".into()), "G = 0 in \"C0(0:4)\""),
        ("C0(0:0)", PatternError::ZeroH("C0(0:0)".into()), "H = 0 in \"C0(0:0)\""),
        ("C1(2:4->C0(2:4)", PatternError::MissingParen("C1(2:4".into()), "missing ')' in \"C1(2:4\""),
        ("C0(half)", PatternError::UnknownRule("half".into()), "unknown rule \"half\""),
        (
            "C1(2:4)->C0",
            PatternError::RuledAboveUnruled { ruled: "C1(2:4)".into(), below: "C0".into() },
            "ruled rank \"C1(2:4)\" above rank \"C0\"",
        ),
        ("unstructured(1.5)", PatternError::BadDensity("1.5".into()), "density \"1.5\" outside (0, 1]"),
        ("unstructured(0)", PatternError::BadDensity("0".into()), "density \"0\" outside (0, 1]"),
        ("unstructured(abc)", PatternError::BadDensity("abc".into()), "density \"abc\""),
        (
            "A(1:2)->B(1:2)->C(1:2)->D(1:2)->E(1:2)",
            PatternError::TooManyRuledRanks(5, "A(1:2)->B(1:2)->C(1:2)->D(1:2)->E(1:2)".into()),
            "5 G:H ranks",
        ),
        ("C0(x:4)", PatternError::BadNumber("x".into()), "bad number \"x\""),
        ("2:4", PatternError::BadRankName("2:4".into()), "bad rank \"2:4\""),
        ("C0(2:4)x", PatternError::TrailingText("C0(2:4)x".into()), "after ')'"),
        ("", PatternError::Empty, "empty pattern"),
    ];
    for (text, expected, fragment) in cases {
        let err = Pattern::parse(text).unwrap_err();
        assert_eq!(&err, expected, "{text}");
        let message = err.to_string();
        assert!(message.contains(fragment), "{text}: {message}");
        assert!(message.contains("unstructured(0.25)"), "{text}: no accepted example in {message}");
        assert!(!message.contains('\n'), "{text}: message is not one line");
    }
}
