use std::collections::BTreeMap;

use serde_json::Value;

use super::compile::{combinations, compile};
use super::{FilterPolicy, PolicyError, Scope};

/// (name, data type, value) of one message attribute.
type Attr<'a> = (&'a str, &'a str, &'a str);

fn attrs(list: &[Attr]) -> BTreeMap<String, (String, String)> {
    list.iter()
        .map(|(name, ty, value)| (name.to_string(), (ty.to_string(), value.to_string())))
        .collect()
}

fn policy(json: &str, scope: Scope) -> FilterPolicy {
    match FilterPolicy::parse(json, scope) {
        Ok(p) => p,
        Err(e) => panic!("policy {json} refused: {e}"),
    }
}

#[test]
fn attribute_table() {
    #[rustfmt::skip]
    let cases: &[(&str, &[Attr], bool)] = &[
        // Exact strings: any listed value, case-sensitive, String.Array elements one by one.
        (r#"{"sport":["rugby","tennis"]}"#, &[("sport", "String", "tennis")], true),
        (r#"{"sport":["rugby","tennis"]}"#, &[("sport", "String", "golf")], false),
        (r#"{"sport":["rugby","tennis"]}"#, &[("sport", "String", "Rugby")], false),
        (r#"{"sport":["rugby","tennis"]}"#, &[("sport", "String.Array", r#"["golf","tennis"]"#)], true),
        (r#"{"sport":["rugby","tennis"]}"#, &[("sport", "String.Array", r#"["golf"]"#)], false),
        (r#"{"sport":["rugby","tennis"]}"#, &[], false),
        (r#"{"sport":["rugby"]}"#, &[("sport", "String", "rugby"), ("other", "String", "x")], true),
        (r#"{"sport":["rugby"]}"#, &[("sport", "String.uuid", "rugby")], true),
        // Keys are ANDed.
        (r#"{"sport":["rugby"],"city":["Oslo"]}"#, &[("sport", "String", "rugby"), ("city", "String", "Oslo")], true),
        (r#"{"sport":["rugby"],"city":["Oslo"]}"#, &[("sport", "String", "rugby")], false),
        // Types stay apart: strings never equal numbers, booleans or null.
        (r#"{"n":["5"]}"#, &[("n", "Number", "5")], false),
        (r#"{"n":[5]}"#, &[("n", "String", "5")], false),
        (r#"{"n":[5]}"#, &[("n", "Number", "5.0")], true),
        (r#"{"flag":[true]}"#, &[("flag", "String", "true")], false),
        (r#"{"flag":[true]}"#, &[("flag", "String.Array", "[true]")], true),
        (r#"{"sport":[null]}"#, &[], false),
        (r#"{"sport":[null]}"#, &[("sport", "String", "null")], false),
        (r#"{"sport":[null]}"#, &[("sport", "String.Array", "[null]")], true),
        // prefix / suffix / equals-ignore-case
        (r#"{"sport":[{"prefix":"bas"}]}"#, &[("sport", "String", "basketball")], true),
        (r#"{"sport":[{"prefix":"bas"}]}"#, &[("sport", "String", "rugby")], false),
        (r#"{"sport":[{"prefix":"bas"}]}"#, &[("sport", "String.Array", r#"["rugby","baseball"]"#)], true),
        (r#"{"sport":[{"suffix":"ball"}]}"#, &[("sport", "String", "football")], true),
        (r#"{"sport":[{"suffix":"ball"}]}"#, &[("sport", "String", "tennis")], false),
        (r#"{"state":[{"equals-ignore-case":"closed"}]}"#, &[("state", "String", "ClOsEd")], true),
        (r#"{"state":[{"equals-ignore-case":"closed"}]}"#, &[("state", "String", "open")], false),
        // anything-but: a list, a single value, numbers, prefix and suffix forms.
        (r#"{"sport":[{"anything-but":["rugby","tennis"]}]}"#, &[("sport", "String", "golf")], true),
        (r#"{"sport":[{"anything-but":["rugby","tennis"]}]}"#, &[("sport", "String", "rugby")], false),
        (r#"{"sport":[{"anything-but":["rugby","tennis"]}]}"#, &[], false),
        (r#"{"sport":[{"anything-but":["rugby","tennis"]}]}"#, &[("sport", "String.Array", r#"["golf","squash"]"#)], true),
        (r#"{"sport":[{"anything-but":["rugby","tennis"]}]}"#, &[("sport", "String.Array", r#"["rugby","golf"]"#)], false),
        (r#"{"sport":[{"anything-but":"rugby"}]}"#, &[("sport", "String", "golf")], true),
        (r#"{"sport":[{"anything-but":"rugby"}]}"#, &[("sport", "String", "rugby")], false),
        (r#"{"price":[{"anything-but":[100,500]}]}"#, &[("price", "Number", "10")], true),
        (r#"{"price":[{"anything-but":[100,500]}]}"#, &[("price", "Number", "500.0")], false),
        (r#"{"price":[{"anything-but":100}]}"#, &[("price", "Number", "100")], false),
        (r#"{"sport":[{"anything-but":{"prefix":"bas"}}]}"#, &[("sport", "String", "rugby")], true),
        (r#"{"sport":[{"anything-but":{"prefix":"bas"}}]}"#, &[("sport", "String", "baseball")], false),
        (r#"{"file":[{"anything-but":{"suffix":".tmp"}}]}"#, &[("file", "String", "a.txt")], true),
        (r#"{"file":[{"anything-but":{"suffix":".tmp"}}]}"#, &[("file", "String", "a.tmp")], false),
        (r#"{"sport":[{"anything-but":"rugby"},{"exists":false}]}"#, &[], true),
        (r#"{"sport":[{"anything-but":"rugby"},{"exists":false}]}"#, &[("sport", "String", "rugby")], false),
        // Numbers: exact, `=`, and ranges, at five decimal places; only Number values compare.
        (r#"{"price":[301.5]}"#, &[("price", "Number", "301.5")], true),
        (r#"{"price":[{"numeric":["=",301.5]}]}"#, &[("price", "Number", "3.015e2")], true),
        (r#"{"price":[{"numeric":["=",301.5]}]}"#, &[("price", "Number", "301.500001")], true),
        (r#"{"price":[{"numeric":["=",301.5]}]}"#, &[("price", "Number", "301.50001")], false),
        (r#"{"price":[{"numeric":["=",301.5]}]}"#, &[("price", "String", "301.5")], false),
        (r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#, &[("price", "Number", "0")], false),
        (r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#, &[("price", "Number", "0.00001")], true),
        (r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#, &[("price", "Number", "150")], true),
        (r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#, &[("price", "Number", "150.00001")], false),
        (r#"{"price":[{"numeric":[">=",10,"<",20]}]}"#, &[("price", "Number", "10")], true),
        (r#"{"price":[{"numeric":[">=",10,"<",20]}]}"#, &[("price", "Number", "20")], false),
        (r#"{"price":[{"numeric":["<",0]}]}"#, &[("price", "Number", "-1")], true),
        (r#"{"price":[{"numeric":["<",0]}]}"#, &[("price", "Number", "0")], false),
        (r#"{"price":[{"numeric":["<=",0]}]}"#, &[("price", "Number", "0")], true),
        (r#"{"price":[{"numeric":[">=",10]}]}"#, &[("price", "Number", "9.99999")], false),
        (r#"{"price":[{"numeric":[">",0]}]}"#, &[("price", "Number", "2000000000")], false),
        (r#"{"price":[{"numeric":[">",0]}]}"#, &[("price", "Number.float", "3.5")], true),
        (r#"{"n":[{"numeric":[">",1]}]}"#, &[("n", "String.Array", "[0, 2]")], true),
        // exists: presence of any non-Binary attribute.
        (r#"{"store":[{"exists":true}]}"#, &[("store", "Number", "99")], true),
        (r#"{"store":[{"exists":true}]}"#, &[("other", "String", "x")], false),
        (r#"{"store":[{"exists":false}]}"#, &[("other", "String", "x")], true),
        (r#"{"store":[{"exists":false}]}"#, &[("store", "String", "x")], false),
        (r#"{"store":[{"exists":true}]}"#, &[("store", "String.Array", "not json")], true),
        (r#"{"store":["x"]}"#, &[("store", "String.Array", "not json")], false),
        (r#"{"blob":[{"exists":true}]}"#, &[("blob", "Binary", "AAEC")], false),
        (r#"{"blob":[{"exists":false}]}"#, &[("blob", "Binary", "AAEC")], true),
        // cidr: IPv4 and IPv6 networks.
        (r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#, &[("ip", "String", "10.0.0.255")], true),
        (r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#, &[("ip", "String", "10.0.1.0")], false),
        (r#"{"ip":[{"cidr":"10.0.0.7/24"}]}"#, &[("ip", "String", "10.0.0.200")], true),
        (r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#, &[("ip", "String", "not-an-ip")], false),
        (r#"{"ip":[{"cidr":"0.0.0.0/0"}]}"#, &[("ip", "String", "203.0.113.9")], true),
        (r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#, &[("ip", "String", "2001:db8::1")], true),
        (r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#, &[("ip", "String", "2001:db9::1")], false),
        (r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#, &[("ip", "String", "10.0.0.1")], false),
        // $or: alternatives, each ANDed with the keys beside it.
        (r#"{"sport":["rugby"],"$or":[{"city":["Oslo"]},{"price":[{"numeric":[">",100]}]}]}"#, &[("sport", "String", "rugby"), ("city", "String", "Oslo")], true),
        (r#"{"sport":["rugby"],"$or":[{"city":["Oslo"]},{"price":[{"numeric":[">",100]}]}]}"#, &[("sport", "String", "rugby"), ("price", "Number", "150")], true),
        (r#"{"sport":["rugby"],"$or":[{"city":["Oslo"]},{"price":[{"numeric":[">",100]}]}]}"#, &[("sport", "String", "rugby"), ("price", "Number", "50")], false),
        (r#"{"sport":["rugby"],"$or":[{"city":["Oslo"]},{"price":[{"numeric":[">",100]}]}]}"#, &[("city", "String", "Oslo")], false),
        // An empty policy lets everything through.
        ("{}", &[], true),
    ];
    for (i, (json, message, expected)) in cases.iter().enumerate() {
        let got = policy(json, Scope::MessageAttributes).matches(&attrs(message), None);
        assert_eq!(got, *expected, "case {i}: {json} against {message:?}");
    }
}

#[test]
fn body_table() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, bool)] = &[
        (r#"{"sport":["rugby"]}"#, r#"{"sport":"rugby"}"#, true),
        (r#"{"sport":["rugby"]}"#, r#"{"sport":"golf"}"#, false),
        (r#"{"sport":["rugby"]}"#, r#"["rugby"]"#, false),
        (r#"{"sport":["rugby"]}"#, r#""rugby""#, false),
        // Nested keys, also reachable through dotted names in the body.
        (r#"{"order":{"item":{"sku":[{"prefix":"AB-"}]}}}"#, r#"{"order":{"item":{"sku":"AB-123"}}}"#, true),
        (r#"{"order":{"item":{"sku":[{"prefix":"AB-"}]}}}"#, r#"{"order":{"item":{"sku":"CD-1"}}}"#, false),
        (r#"{"order":{"item":{"sku":[{"prefix":"AB-"}]}}}"#, r#"{"order.item.sku":"AB-9"}"#, true),
        (r#"{"order":{"item":{"sku":[{"prefix":"AB-"}]}}}"#, r#"{"order":{"sku":"AB-9"}}"#, false),
        // Arrays: any element matches; arrays of objects are searched.
        (r#"{"tags":["red"]}"#, r#"{"tags":["blue","red"]}"#, true),
        (r#"{"tags":["red"]}"#, r#"{"tags":["blue"]}"#, false),
        (r#"{"records":{"event":["created"]}}"#, r#"{"records":[{"event":"deleted"},{"event":"created"}]}"#, true),
        (r#"{"records":{"event":["created"]}}"#, r#"{"records":[{"event":"deleted"}]}"#, false),
        (r#"{"tags":[{"anything-but":"red"}]}"#, r#"{"tags":["blue","red"]}"#, false),
        (r#"{"tags":[{"anything-but":"red"}]}"#, r#"{"tags":["blue"]}"#, true),
        // JSON types stay apart.
        (r#"{"price":[{"numeric":[">",10]}]}"#, r#"{"price":11}"#, true),
        (r#"{"price":[{"numeric":[">",10]}]}"#, r#"{"price":"11"}"#, false),
        (r#"{"price":[11]}"#, r#"{"price":11.0}"#, true),
        (r#"{"ok":[true]}"#, r#"{"ok":true}"#, true),
        (r#"{"ok":[true]}"#, r#"{"ok":"true"}"#, false),
        (r#"{"gone":[null]}"#, r#"{"gone":null}"#, true),
        (r#"{"gone":[null]}"#, r#"{}"#, false),
        (r#"{"state":[{"equals-ignore-case":"PAID"}]}"#, r#"{"state":"paid"}"#, true),
        (r#"{"file":[{"suffix":".png"}]}"#, r#"{"file":"cat.png"}"#, true),
        (r#"{"file":[{"anything-but":{"suffix":".png"}}]}"#, r#"{"file":"cat.png"}"#, false),
        (r#"{"source":{"ip":[{"cidr":"192.168.0.0/16"}]}}"#, r#"{"source":{"ip":"192.168.4.2"}}"#, true),
        (r#"{"source":{"ip":[{"cidr":"192.168.0.0/16"}]}}"#, r#"{"source":{"ip":"192.169.4.2"}}"#, false),
        // exists applies to leaves only.
        (r#"{"order":[{"exists":true}]}"#, r#"{"order":{"id":1}}"#, false),
        (r#"{"order":{"id":[{"exists":true}]}}"#, r#"{"order":{"id":1}}"#, true),
        (r#"{"order":{"id":[{"exists":false}]}}"#, r#"{"order":{}}"#, true),
        (r#"{"tags":[{"exists":true}]}"#, r#"{"tags":[]}"#, false),
        (r#"{"gone":[{"exists":true}]}"#, r#"{"gone":null}"#, true),
        // $or inside a nested object.
        (r#"{"order":{"$or":[{"state":["paid"]},{"total":[{"numeric":[">=",1000]}]}]}}"#, r#"{"order":{"state":"paid"}}"#, true),
        (r#"{"order":{"$or":[{"state":["paid"]},{"total":[{"numeric":[">=",1000]}]}]}}"#, r#"{"order":{"total":5000}}"#, true),
        (r#"{"order":{"$or":[{"state":["paid"]},{"total":[{"numeric":[">=",1000]}]}]}}"#, r#"{"order":{"state":"new","total":10}}"#, false),
        ("{}", r#""anything""#, true),
    ];
    for (i, (json, body, expected)) in cases.iter().enumerate() {
        let body: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => panic!("case {i}: bad test body {body}: {e}"),
        };
        let got = policy(json, Scope::MessageBody).matches(&BTreeMap::new(), Some(&body));
        assert_eq!(got, *expected, "case {i}: {json} against {body}");
    }
}

#[test]
fn body_scope_ignores_attributes_and_needs_json() {
    let p = policy(r#"{"sport":["rugby"]}"#, Scope::MessageBody);
    let a = attrs(&[("sport", "String", "rugby")]);
    assert!(!p.matches(&a, None));
    let a_policy = policy(r#"{"sport":["rugby"]}"#, Scope::MessageAttributes);
    let body: Value = serde_json::json!({"sport": "rugby"});
    assert!(!a_policy.matches(&BTreeMap::new(), Some(&body)));
}

#[test]
fn validation_table() {
    use Scope::{MessageAttributes as A, MessageBody as B};
    let p = "Invalid parameter: FilterPolicy: ";
    #[rustfmt::skip]
    let cases: &[(&str, Scope, &str)] = &[
        ("{invalid", A, "failed to parse JSON."),
        ("[]", A, "Filter is not an object"),
        (r#"{"key":"value"}"#, A, r#""key" must be an object or an array"#),
        (r#"{"key":[]}"#, A, "Empty arrays are not allowed"),
        (r#"{"key":{}}"#, B, "Empty objects are not allowed"),
        (r#"{"key":[["value"]]}"#, A, "Match value must be String, number, true, false, or null"),
        (r#"{"key":[{}]}"#, A, "Match expression name not found"),
        (r#"{"key":[{"wrong-operator":true}]}"#, A, "Unrecognized match type wrong-operator"),
        (r#"{"key":[{"wildcard":"a*"}]}"#, A, "Unrecognized match type wildcard"),
        (r#"{"key":[{"suffix":"value","prefix":"value2"}]}"#, A, "Only one key allowed in match expression"),
        (r#"{"key":[{"suffix":100}]}"#, A, "suffix match pattern must be a string"),
        (r#"{"key":[{"suffix":null}]}"#, A, "suffix match pattern must be a string"),
        (r#"{"key":[{"suffix":["a","b"]}]}"#, A, "suffix match pattern must be a string"),
        (r#"{"key":[{"prefix":1}]}"#, A, "prefix match pattern must be a string"),
        (r#"{"key":[{"equals-ignore-case":1}]}"#, A, "equals-ignore-case match pattern must be a string"),
        (r#"{"key":{"suffix":"value"}}"#, A, r#""suffix" must be an object or an array"#),
        (r#"{"key":{"suffix":"value","prefix":"value"}}"#, A, r#""suffix" must be an object or an array"#),
        (r#"{"key":{"not-an-operator":"value"}}"#, A, r#""not-an-operator" must be an object or an array"#),
        // numeric
        (r#"{"key":[{"numeric":">"}]}"#, A, "Value of numeric must be an array."),
        (r#"{"key":[{"numeric":[]}]}"#, A, "Invalid member in numeric match: ]"),
        (r#"{"key":[{"numeric":["operator"]}]}"#, A, "Unrecognized numeric range operator: operator"),
        (r#"{"key":[{"numeric":[1,"<="]}]}"#, A, "Invalid member in numeric match: 1"),
        (r#"{"key":[{"numeric":["=","000"]}]}"#, A, "Value of equals must be numeric"),
        (r#"{"key":[{"numeric":[">="]}]}"#, A, "Value of >= must be numeric"),
        (r#"{"key":[{"numeric":["<",100,">",10]}]}"#, A, "Too many elements in numeric expression"),
        (r#"{"key":[{"numeric":["=",1,2]}]}"#, A, "Too many elements in numeric expression"),
        (r#"{"key":[{"numeric":[">=",1,">",2]}]}"#, A, "Bad numeric range operator: >"),
        (r#"{"key":[{"numeric":[">",3,"<",1]}]}"#, A, "Bottom must be less than top"),
        (r#"{"key":[{"numeric":[">",3,"<",3]}]}"#, A, "Bottom must be less than top"),
        (r#"{"key":[{"numeric":[">",20,"<="]}]}"#, A, "Value of <= must be numeric"),
        (r#"{"key":[{"numeric":[">",20,30]}]}"#, A, "Bad value in numeric range: 30"),
        (r#"{"key":[{"numeric":[">",20,"test"]}]}"#, A, "Bad numeric range operator: test"),
        (r#"{"key":[{"numeric":[">","20","<","30"]}]}"#, A, "Value of > must be numeric"),
        (r#"{"key":[{"numeric":[">",20,"<","30"]}]}"#, A, "Value of < must be numeric"),
        (r#"{"key":[{"numeric":[">",20,"<",30,"<",50]}]}"#, A, "Too many terms in numeric range expression"),
        (r#"{"key":[{"numeric":["<",2000000000]}]}"#, A, "Value must be between -1.0E9 and 1.0E9, inclusive"),
        (r#"{"key":[{"numeric":[">",1],"x":1}]}"#, A, "Too many elements in numeric expression"),
        // exists
        (r#"{"key":[{"exists":null}]}"#, A, "exists match pattern must be either true or false."),
        (r#"{"key":[{"exists":"no"}]}"#, A, "exists match pattern must be either true or false."),
        (r#"{"key":[{"exists":true,"prefix":"a"}]}"#, A, "Only one key allowed in match expression"),
        // anything-but
        (r#"{"key":[{"anything-but":{"wrong-operator":null}}]}"#, A, "Unsupported anything-but pattern: wrong-operator"),
        (r#"{"key":[{"anything-but":{"exists":false}}]}"#, A, "Unsupported anything-but pattern: exists"),
        (r#"{"key":[{"anything-but":{"prefix":false}}]}"#, A, "prefix match pattern must be a string"),
        (r#"{"key":[{"anything-but":{"suffix":1}}]}"#, A, "suffix match pattern must be a string"),
        (r#"{"key":[{"anything-but":{"prefix":""}}]}"#, A, "Null prefix/suffix not allowed"),
        (r#"{"key":[{"anything-but":{}}]}"#, A, "Anything-But expression name not found"),
        (r#"{"key":[{"anything-but":{"prefix":"a","suffix":"b"}}]}"#, A, "Only one key allowed in match expression"),
        (r#"{"key":[{"anything-but":["a",1]}]}"#, A, "Inside anything but list, either all values are number or string, mixed type is not supported"),
        (r#"{"key":[{"anything-but":[]}]}"#, A, "Inside anything but list, either all values are number or string, mixed type is not supported"),
        (r#"{"key":[{"anything-but":[null]}]}"#, A, "Inside anything but list, start|null|boolean is not supported."),
        (r#"{"key":[{"anything-but":true}]}"#, A, "Value of anything-but must be an array or single string/number value."),
        (r#"{"key":[{"anything-but":[5000000000]}]}"#, A, "Value must be between -1.0E9 and 1.0E9, inclusive"),
        (r#"{"key":[{"anything-but":"a","x":1}]}"#, A, "Too many elements in numeric expression"),
        // cidr
        (r#"{"key":[{"cidr":1}]}"#, A, "prefix match pattern must be a string"),
        (r#"{"key":[{"cidr":"10.0.0.0"}]}"#, A, "Malformed CIDR, one '/' required"),
        (r#"{"key":[{"cidr":"10.0.0.0/"}]}"#, A, "Malformed CIDR, one '/' required"),
        (r#"{"key":[{"cidr":"10.0.0.0/8/8"}]}"#, A, "Malformed CIDR, one '/' required"),
        (r#"{"key":[{"cidr":"10.0.0.0/x"}]}"#, A, "Malformed CIDR, mask bits must be an integer"),
        (r#"{"key":[{"cidr":"10.0.0.0/-1"}]}"#, A, "Malformed CIDR, mask bits must not be negative"),
        (r#"{"key":[{"cidr":"10.0.0.300/8"}]}"#, A, "Nonstandard IP address: 10.0.0.300"),
        (r#"{"key":[{"cidr":"10.0.0.0/32"}]}"#, A, "IPv4 mask bits must be < 32"),
        (r#"{"key":[{"cidr":"::/128"}]}"#, A, "IPv6 mask bits must be < 128"),
        (r#"{"key":[{"cidr":"10.0.0.0/8","x":1}]}"#, A, "Only one key allowed in match expression"),
        // $or
        (r#"{"$or":{"a":["x"]}}"#, A, "It must be an Array followed with $or."),
        (r#"{"$or":[{"a":["x"]}]}"#, A, "There must have at least 2 Objects in $or relationship."),
        (r#"{"$or":[{"a":["x"]},"b"]}"#, A, "Only JSON object is allowed in array of $or relationship."),
        (r#"{"$or":[{"a":["x"]},{}]}"#, A, "Empty objects are not allowed"),
    ];
    for (i, (json, scope, reason)) in cases.iter().enumerate() {
        match FilterPolicy::parse(json, *scope) {
            Ok(_) => panic!("case {i}: {json} was accepted"),
            Err(e) => assert_eq!(e.to_string(), format!("{p}{reason}"), "case {i}: {json}"),
        }
    }
}

#[test]
fn nesting_only_in_body_scope() {
    let nested = r#"{"a":{"b":["x"]}}"#;
    let err = FilterPolicy::parse(nested, Scope::MessageAttributes).err();
    assert_eq!(err, Some(PolicyError::NestedInAttributeScope));
    assert_eq!(
        PolicyError::NestedInAttributeScope.to_string(),
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    );
    assert!(FilterPolicy::parse(nested, Scope::MessageBody).is_ok());
    // Nesting hidden inside an $or alternative is nesting all the same.
    let in_or = r#"{"$or":[{"a":{"b":["x"]}},{"c":["y"]}]}"#;
    assert_eq!(
        FilterPolicy::parse(in_or, Scope::MessageAttributes).err(),
        Some(PolicyError::NestedInAttributeScope)
    );
}

fn values(n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
    format!("[{}]", items.join(","))
}

#[test]
fn key_limit() {
    let five = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"]}"#;
    assert!(FilterPolicy::parse(five, Scope::MessageAttributes).is_ok());
    let six = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#;
    let err = FilterPolicy::parse(six, Scope::MessageAttributes).err();
    assert_eq!(err, Some(PolicyError::TooManyKeys));
    assert_eq!(
        PolicyError::TooManyKeys.to_string(),
        "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
    );
    // Nested policies count leaf keys, not parents.
    let leaves = r#"{"p":{"a":["1"],"b":["1"],"c":["1"]},"q":{"d":["1"],"e":["1"],"f":["1"]}}"#;
    assert_eq!(
        FilterPolicy::parse(leaves, Scope::MessageBody).err(),
        Some(PolicyError::TooManyKeys)
    );
    // Each $or alternative is counted on its own.
    let split =
        r#"{"a":["1"],"b":["1"],"c":["1"],"$or":[{"d":["1"],"e":["1"]},{"f":["1"],"g":["1"]}]}"#;
    assert!(FilterPolicy::parse(split, Scope::MessageAttributes).is_ok());
}

#[test]
fn combination_counting() {
    // Three keys with 3, 1 and 2 values: 3 x 1 x 2.
    let flat = r#"{"a":["1","2","3"],"b":["1"],"c":["1","2"]}"#;
    let branches = compile(flat, Scope::MessageAttributes).unwrap_or_default();
    assert_eq!(combinations(&branches), 6);
    // Nested keys weigh their depth: 4 values three deep and 3 values two deep give 3x4 x 2x3.
    let nested = r#"{"a":{"b":{"c":["1","2","3","4"]}},"d":{"e":["1","2","3"]}}"#;
    let branches = compile(nested, Scope::MessageBody).unwrap_or_default();
    assert_eq!(combinations(&branches), 72);
    // $or alternatives add: 1x2 + 1x1x2 + 1x2.
    let or = r#"{"s":["x"],"$or":[{"m":["a","b"]},{"t":["a"],"n":["a","b"]},{"c":["a","b"]}]}"#;
    let branches = compile(or, Scope::MessageAttributes).unwrap_or_default();
    assert_eq!(combinations(&branches), 6);
}

#[test]
fn complexity_limit() {
    let at_limit = format!(r#"{{"a":{},"b":{}}}"#, values(10), values(15));
    assert!(FilterPolicy::parse(&at_limit, Scope::MessageAttributes).is_ok());
    let over = format!(r#"{{"a":{},"b":{}}}"#, values(10), values(16));
    let err = FilterPolicy::parse(&over, Scope::MessageAttributes).err();
    assert_eq!(err, Some(PolicyError::TooComplex));
    assert_eq!(
        PolicyError::TooComplex.to_string(),
        "Invalid parameter: FilterPolicy: Filter policy is too complex"
    );
    // The same 5 x 6 values are fine flat but too complex nested (3x5 x 2x6 = 180).
    let flat = format!(r#"{{"c":{},"e":{}}}"#, values(5), values(6));
    assert!(FilterPolicy::parse(&flat, Scope::MessageBody).is_ok());
    let deep = format!(
        r#"{{"a":{{"b":{{"c":{}}}}},"d":{{"e":{}}}}}"#,
        values(5),
        values(6)
    );
    assert_eq!(
        FilterPolicy::parse(&deep, Scope::MessageBody).err(),
        Some(PolicyError::TooComplex)
    );
    // $or alternatives sum: 75 + 75 fits, 75 + 76 does not.
    let or_ok = format!(
        r#"{{"$or":[{{"a":{}}},{{"b":{}}}]}}"#,
        values(75),
        values(75)
    );
    assert!(FilterPolicy::parse(&or_ok, Scope::MessageAttributes).is_ok());
    let or_over = format!(
        r#"{{"$or":[{{"a":{}}},{{"b":{}}}]}}"#,
        values(75),
        values(76)
    );
    assert_eq!(
        FilterPolicy::parse(&or_over, Scope::MessageAttributes).err(),
        Some(PolicyError::TooComplex)
    );
    // Successive $or forks multiply; expansion stops as soon as the limit is certain to pass.
    let mut forks = String::from(r#"{"x":["1"]}"#);
    for _ in 0..10 {
        forks = format!(r#"{{"$or":[{{"a":["1"]}},{{"b":["1"]}}],"n":{forks}}}"#);
    }
    assert_eq!(
        FilterPolicy::parse(&forks, Scope::MessageBody).err(),
        Some(PolicyError::TooComplex)
    );
}

#[test]
fn size_limit() {
    let big = format!(r#"{{"a":["{}"]}}"#, "x".repeat(super::MAX_POLICY_BYTES));
    assert_eq!(
        FilterPolicy::parse(&big, Scope::MessageAttributes).err(),
        Some(PolicyError::TooLarge)
    );
    let fits = format!(
        r#"{{"a":["{}"]}}"#,
        "x".repeat(super::MAX_POLICY_BYTES - 20)
    );
    assert!(FilterPolicy::parse(&fits, Scope::MessageAttributes).is_ok());
}

#[test]
fn out_of_range_exact_numbers_are_accepted() {
    let p = policy(r#"{"id":[123456789012]}"#, Scope::MessageAttributes);
    assert!(p.matches(&attrs(&[("id", "Number", "123456789012")]), None));
    assert!(!p.matches(&attrs(&[("id", "Number", "123456789013")]), None));
}

#[test]
fn subscribe_wording() {
    let err = FilterPolicy::parse(r#"{"key":[{"exists":"no"}]}"#, Scope::MessageAttributes)
        .err()
        .map(|e| e.subscribe_message());
    assert_eq!(
        err.as_deref(),
        Some("Invalid parameter: Attributes Reason: FilterPolicy: exists match pattern must be either true or false.")
    );
}

#[test]
fn scope_attribute() {
    assert_eq!(Scope::parse("MessageBody"), Ok(Scope::MessageBody));
    assert_eq!(
        Scope::parse("MessageAttributes"),
        Ok(Scope::MessageAttributes)
    );
    assert_eq!(Scope::default(), Scope::MessageAttributes);
    assert_eq!(Scope::MessageBody.as_str(), "MessageBody");
    assert_eq!(
        Scope::parse("RandomValue").err().map(|e| e.to_string()).as_deref(),
        Some("Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. Please use either MessageBody or MessageAttributes")
    );
}
