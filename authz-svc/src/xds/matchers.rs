//! Small constructors for the Envoy and xDS matcher protos the fast path is written in,
//! so `filters.rs` reads as the rules it encodes.

use envoy_types::pb::envoy::config::rbac::v3 as rbac;
use envoy_types::pb::envoy::extensions::matching::common_inputs::network::v3::{
    DynamicMetadataInput, dynamic_metadata_input,
};
use envoy_types::pb::envoy::extensions::matching::input_matchers::metadata::v3::Metadata as MetadataInputMatcher;
use envoy_types::pb::envoy::r#type::matcher::v3 as envoy_match;
use envoy_types::pb::envoy::r#type::matcher::v3::HttpRequestHeaderMatchInput;
use envoy_types::pb::google::protobuf::Any;
use envoy_types::pb::xds::core::v3::TypedExtensionConfig;
use envoy_types::pb::xds::r#type::matcher::v3::Matcher;
use envoy_types::pb::xds::r#type::matcher::v3::matcher::matcher_list::{
    FieldMatcher, Predicate, predicate,
};
use envoy_types::pb::xds::r#type::matcher::v3::matcher::{self, MatcherList, MatcherTree, OnMatch};
use prost::Name;

/// Where jwt_authn and the RBAC filter keep their dynamic metadata.
pub const JWT_AUTHN: &str = "envoy.filters.http.jwt_authn";
pub const RBAC: &str = "envoy.filters.http.rbac";

pub fn any<M: Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

fn typed<M: Name>(name: &str, message: &M) -> TypedExtensionConfig {
    TypedExtensionConfig {
        name: name.to_owned(),
        typed_config: Some(any(message)),
    }
}

fn key_path(path: &[&str]) -> Vec<dynamic_metadata_input::PathSegment> {
    path.iter()
        .map(|key| dynamic_metadata_input::PathSegment {
            segment: Some(dynamic_metadata_input::path_segment::Segment::Key(
                (*key).to_owned(),
            )),
        })
        .collect()
}

/// A value in a filter's dynamic metadata, matched by `value` (HTTP matchers read
/// metadata only through the metadata input matcher, never as a string).
pub fn metadata(filter: &str, path: &[&str], value: envoy_match::ValueMatcher) -> Predicate {
    let input = DynamicMetadataInput {
        filter: filter.to_owned(),
        path: key_path(path),
    };
    let matcher = MetadataInputMatcher {
        value: Some(value),
        invert: false,
    };
    single(
        typed("envoy.matching.inputs.dynamic_metadata", &input),
        predicate::single_predicate::Matcher::CustomMatch(typed(
            "envoy.matching.matchers.metadata_matcher",
            &matcher,
        )),
    )
}

fn single(input: TypedExtensionConfig, matcher: predicate::single_predicate::Matcher) -> Predicate {
    Predicate {
        match_type: Some(predicate::MatchType::SinglePredicate(
            predicate::SinglePredicate {
                input: Some(input),
                matcher: Some(matcher),
            },
        )),
    }
}

pub fn present(filter: &str, path: &[&str]) -> Predicate {
    metadata(
        filter,
        path,
        value(envoy_match::value_matcher::MatchPattern::PresentMatch(true)),
    )
}

pub fn value(pattern: envoy_match::value_matcher::MatchPattern) -> envoy_match::ValueMatcher {
    envoy_match::ValueMatcher {
        match_pattern: Some(pattern),
    }
}

pub fn string(exact: &str, ignore_case: bool) -> envoy_match::StringMatcher {
    envoy_match::StringMatcher {
        ignore_case,
        match_pattern: Some(envoy_match::string_matcher::MatchPattern::Exact(
            exact.to_owned(),
        )),
    }
}

pub fn string_value(exact: &str, ignore_case: bool) -> envoy_match::ValueMatcher {
    value(envoy_match::value_matcher::MatchPattern::StringMatch(
        string(exact, ignore_case),
    ))
}

/// A number at least `start`.
pub fn at_least(start: f64) -> envoy_match::ValueMatcher {
    value(envoy_match::value_matcher::MatchPattern::DoubleMatch(
        envoy_match::DoubleMatcher {
            match_pattern: Some(envoy_match::double_matcher::MatchPattern::Range(
                envoy_types::pb::envoy::r#type::v3::DoubleRange {
                    start,
                    end: f64::MAX,
                },
            )),
        },
    ))
}

/// An RBAC action as a matcher's outcome; ALLOW is the only outcome that lets a call
/// skip ext_authz.
pub fn action(name: &str, allow: bool) -> OnMatch {
    let action = rbac::Action {
        name: name.to_owned(),
        action: if allow {
            rbac::rbac::Action::Allow as i32
        } else {
            rbac::rbac::Action::Deny as i32
        },
    };
    OnMatch {
        keep_matching: false,
        on_match: Some(matcher::on_match::OnMatch::Action(typed(name, &action))),
    }
}

pub fn then(next: Matcher) -> OnMatch {
    OnMatch {
        keep_matching: false,
        on_match: Some(matcher::on_match::OnMatch::Matcher(Box::new(next))),
    }
}

/// The first entry whose predicate holds decides; `otherwise` when none does.
pub fn first_of(entries: Vec<(Predicate, OnMatch)>, otherwise: OnMatch) -> Matcher {
    Matcher {
        on_no_match: Some(Box::new(otherwise)),
        matcher_type: Some(matcher::MatcherType::MatcherList(MatcherList {
            matchers: entries
                .into_iter()
                .map(|(predicate, on_match)| FieldMatcher {
                    predicate: Some(predicate),
                    on_match: Some(on_match),
                })
                .collect(),
        })),
    }
}

/// One hash lookup of a request header's value.
pub fn by_header(
    header: &str,
    map: std::collections::HashMap<String, OnMatch>,
    otherwise: OnMatch,
) -> Matcher {
    let input = HttpRequestHeaderMatchInput {
        header_name: header.to_owned(),
    };
    Matcher {
        on_no_match: Some(Box::new(otherwise)),
        matcher_type: Some(matcher::MatcherType::MatcherTree(MatcherTree {
            input: Some(typed("envoy.matching.inputs.request_headers", &input)),
            tree_type: Some(matcher::matcher_tree::TreeType::ExactMatchMap(
                matcher::matcher_tree::MatchMap { map },
            )),
        })),
    }
}

/// A classic RBAC metadata matcher (dynamic metadata or the route's own).
pub fn sourced(
    source: rbac::MetadataSource,
    filter: &str,
    path: &[&str],
    value: envoy_match::ValueMatcher,
) -> rbac::SourcedMetadata {
    rbac::SourcedMetadata {
        metadata_matcher: Some(envoy_match::MetadataMatcher {
            filter: filter.to_owned(),
            path: path
                .iter()
                .map(|key| envoy_match::metadata_matcher::PathSegment {
                    segment: Some(envoy_match::metadata_matcher::path_segment::Segment::Key(
                        (*key).to_owned(),
                    )),
                })
                .collect(),
            value: Some(value),
            invert: false,
        }),
        metadata_source: source as i32,
    }
}

/// A list value that has `item` among its entries.
pub fn list_has(item: &str) -> envoy_match::ValueMatcher {
    value(envoy_match::value_matcher::MatchPattern::ListMatch(
        Box::new(envoy_match::ListMatcher {
            match_pattern: Some(envoy_match::list_matcher::MatchPattern::OneOf(Box::new(
                string_value(item, false),
            ))),
        }),
    ))
}
