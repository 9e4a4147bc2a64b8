//! DynamoDB request units, as on-demand mode bills them, of the calls the emulator served.
//!
//! The recording holds requests, not responses, so item sizes are tracked from what was
//! written (seeded with the table's items when the window opens): a read is billed on the size
//! of the item as last written, a write on the larger of the old and new item (AWS's rule),
//! an UpdateItem on the old item's size (the new one is not in the request). A Query is billed
//! on every tracked item its key condition matches (the partition, and a `begins_with` or `=`
//! on the sort key), ignoring filters: an upper bound; with a `Limit`, on that many of them at
//! their average size.
//! Conditional writes that fail are billed too, as on AWS. Units: 1 KB per write unit,
//! 4 KB per read unit, half for an eventually consistent read, twice for transactions.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::recording::Call;

/// A table's key attributes, and the partition and sort attributes of each index.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub key: Vec<String>,
    pub indexes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Units {
    pub read_units: f64,
    pub write_units: f64,
    /// Requests by operation.
    pub requests: BTreeMap<String, usize>,
}

impl Units {
    pub fn request_count(&self) -> usize {
        self.requests.values().sum()
    }
}

/// Bytes of an item in DynamoDB's accounting: attribute names plus values.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let number = |n: &str| {
        let digits = n.trim_start_matches('-').replace('.', "");
        let significant = digits
            .trim_start_matches('0')
            .trim_end_matches('0')
            .len()
            .max(1);
        significant.div_ceil(2) + 1
    };
    let binary = |b: &str| b.len() * 3 / 4;
    let strings = |f: &dyn Fn(&str) -> usize| {
        inner
            .as_array()
            .map_or(0, |a| a.iter().filter_map(Value::as_str).map(f).sum())
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(1, number),
        "B" => inner.as_str().map_or(0, binary),
        "BOOL" | "NULL" => 1,
        "SS" => strings(&str::len),
        "NS" => strings(&number),
        "BS" => strings(&binary),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |a| a.iter().map(|v| value_size(v) + 1).sum())
        }
        "M" => {
            3 + inner.as_object().map_or(0, |m| {
                m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum()
            })
        }
        _ => 0,
    }
}

fn units(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// Item sizes as the calls leave them, and the units the calls cost.
#[derive(Default)]
pub struct Estimator {
    schemas: BTreeMap<String, Schema>,
    /// (table, key) → the item as last written.
    items: BTreeMap<(String, String), Map<String, Value>>,
    pub units: Units,
}

impl Estimator {
    pub fn new(schemas: BTreeMap<String, Schema>) -> Self {
        Self {
            schemas,
            ..Default::default()
        }
    }

    /// Items that exist before the calls (from a Scan).
    pub fn seed(&mut self, table: &str, items: impl IntoIterator<Item = Map<String, Value>>) {
        for item in items {
            let key = self.key_of(table, &item);
            self.items.insert((table.to_owned(), key), item);
        }
    }

    fn key_of(&self, table: &str, item: &Map<String, Value>) -> String {
        let names = self
            .schemas
            .get(table)
            .map(|s| s.key.clone())
            .unwrap_or_default();
        names
            .iter()
            .map(|n| item.get(n).map(Value::to_string).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("|")
    }

    fn size(&self, table: &str, key: &Map<String, Value>) -> usize {
        self.items
            .get(&(table.to_owned(), self.key_of(table, key)))
            .map_or(0, item_size)
    }

    fn read(&mut self, table: &str, key: &Map<String, Value>, consistent: bool, factor: f64) {
        let rate = if consistent { 1.0 } else { 0.5 };
        self.units.read_units += units(self.size(table, key), 4096) * rate * factor;
    }

    fn put(&mut self, table: &str, item: &Map<String, Value>, factor: f64) {
        let old = self.size(table, item);
        self.units.write_units += units(old.max(item_size(item)), 1024) * factor;
        let key = self.key_of(table, item);
        self.items.insert((table.to_owned(), key), item.clone());
    }

    fn touch(&mut self, table: &str, key: &Map<String, Value>, factor: f64, delete: bool) {
        self.units.write_units += units(self.size(table, key), 1024) * factor;
        if delete {
            let key = self.key_of(table, key);
            self.items.remove(&(table.to_owned(), key));
        }
    }

    pub fn add(&mut self, call: &Call) {
        if call.service != "dynamodb" {
            return;
        }
        *self.units.requests.entry(call.action.clone()).or_default() += 1;
        let Some(body) = call.body.as_ref() else {
            return;
        };
        let table = body["TableName"].as_str().unwrap_or_default().to_owned();
        let object = |v: &Value| v.as_object().cloned().unwrap_or_default();
        let consistent = body["ConsistentRead"].as_bool() == Some(true);
        match call.action.as_str() {
            "GetItem" => self.read(&table, &object(&body["Key"]), consistent, 1.0),
            "PutItem" => self.put(&table, &object(&body["Item"]), 1.0),
            "UpdateItem" => self.touch(&table, &object(&body["Key"]), 1.0, false),
            "DeleteItem" => self.touch(&table, &object(&body["Key"]), 1.0, true),
            "Query" => {
                let bytes = self.query_bytes(&table, body);
                self.units.read_units += units(bytes, 4096) * if consistent { 1.0 } else { 0.5 };
            }
            "Scan" => {
                let bytes: usize = self
                    .items
                    .iter()
                    .filter(|((t, _), _)| *t == table)
                    .map(|(_, item)| item_size(item))
                    .sum();
                self.units.read_units += units(bytes, 4096) * if consistent { 1.0 } else { 0.5 };
            }
            "BatchGetItem" => {
                for (table, request) in body["RequestItems"].as_object().into_iter().flatten() {
                    let consistent = request["ConsistentRead"].as_bool() == Some(true);
                    for key in request["Keys"].as_array().into_iter().flatten() {
                        self.read(table, &object(key), consistent, 1.0);
                    }
                }
            }
            "BatchWriteItem" => {
                for (table, requests) in body["RequestItems"].as_object().into_iter().flatten() {
                    for request in requests.as_array().into_iter().flatten() {
                        if let Some(item) = request["PutRequest"]["Item"].as_object() {
                            self.put(table, item, 1.0);
                        } else if let Some(key) = request["DeleteRequest"]["Key"].as_object() {
                            self.touch(table, key, 1.0, true);
                        }
                    }
                }
            }
            "TransactGetItems" => {
                for get in body["TransactItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| &i["Get"])
                {
                    self.read(
                        get["TableName"].as_str().unwrap_or_default(),
                        &object(&get["Key"]),
                        true,
                        2.0,
                    );
                }
            }
            "TransactWriteItems" => {
                for item in body["TransactItems"].as_array().into_iter().flatten() {
                    let Some((kind, op)) = item.as_object().and_then(|o| o.iter().next()) else {
                        continue;
                    };
                    let table = op["TableName"].as_str().unwrap_or_default().to_owned();
                    match kind.as_str() {
                        "Put" => self.put(&table, &object(&op["Item"]), 2.0),
                        "Delete" => self.touch(&table, &object(&op["Key"]), 2.0, true),
                        _ => self.touch(&table, &object(&op["Key"]), 2.0, false),
                    }
                }
            }
            _ => {}
        }
    }

    /// Bytes of the tracked items a Query's key condition matches.
    fn query_bytes(&self, table: &str, body: &Value) -> usize {
        let schema = self.schemas.get(table).cloned().unwrap_or_default();
        let key = match body["IndexName"].as_str() {
            Some(index) => schema.indexes.get(index).cloned().unwrap_or_default(),
            None => schema.key.clone(),
        };
        let names = body["ExpressionAttributeNames"].as_object();
        let values = body["ExpressionAttributeValues"].as_object();
        let resolve_name = |token: &str| {
            names
                .and_then(|n| n.get(token))
                .and_then(Value::as_str)
                .unwrap_or(token)
                .to_owned()
        };
        let resolve_value = |token: &str| values.and_then(|v| v.get(token)).cloned();
        let mut conditions: Vec<(String, bool, Value)> = Vec::new(); // (attribute, prefix?, value)
        let expression = body["KeyConditionExpression"].as_str().unwrap_or_default();
        for clause in expression.split(" AND ").flat_map(|c| c.split(" and ")) {
            let clause = clause.trim().trim_matches(|c| c == '(' || c == ')');
            if let Some(args) = clause.strip_prefix("begins_with(") {
                let mut parts = args.split(',').map(|p| p.trim().trim_end_matches(')'));
                if let (Some(name), Some(value)) =
                    (parts.next(), parts.next().and_then(resolve_value))
                {
                    conditions.push((resolve_name(name), true, value));
                }
            } else if let Some((name, value)) = clause.split_once('=') {
                if let Some(value) = resolve_value(value.trim()) {
                    conditions.push((resolve_name(name.trim()), false, value));
                }
            }
        }
        let matches = |item: &Map<String, Value>| {
            key.first().is_some_and(|pk| item.contains_key(pk))
                && conditions
                    .iter()
                    .all(|(name, prefix, value)| match item.get(name) {
                        Some(found) if *prefix => {
                            match (found["S"].as_str(), value["S"].as_str()) {
                                (Some(f), Some(p)) => f.starts_with(p),
                                _ => false,
                            }
                        }
                        Some(found) => found == value,
                        None => false,
                    })
        };
        let sizes: Vec<usize> = self
            .items
            .iter()
            .filter(|((t, _), item)| t == table && matches(item))
            .map(|(_, item)| item_size(item))
            .collect();
        let total: usize = sizes.iter().sum();
        // A page of `Limit` items: that many of the matched ones, at their average size (a
        // paged enumeration was billed its whole partition per page before: quadratic).
        match body["Limit"].as_u64().map(|l| l as usize) {
            Some(limit) if limit < sizes.len() => total * limit / sizes.len(),
            _ => total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::recording::Caller;
    use serde_json::json;

    fn call(action: &str, body: Value) -> Call {
        Call {
            service: "dynamodb".into(),
            action: action.into(),
            caller: Caller::Vendor,
            body: Some(body),
        }
    }

    fn estimator() -> Estimator {
        let schema = Schema {
            key: vec!["pk".into(), "sk".into()],
            indexes: BTreeMap::from([("by_status".into(), vec!["status".into()])]),
        };
        Estimator::new(BTreeMap::from([("t".to_owned(), schema)]))
    }

    #[test]
    fn sizes_follow_dynamodbs_accounting() {
        let item = json!({"pk": {"S": "abc"}, "n": {"N": "12345"}, "ok": {"BOOL": true}, "m": {"M": {"a": {"S": "xy"}}}, "l": {"L": [{"S": "z"}]}});
        // pk 2+3, n 1+(3+1), ok 2+1, m 1+(3+1+2+1), l 1+(3+1+1)
        assert_eq!(item_size(item.as_object().unwrap()), 5 + 5 + 3 + 8 + 6);
    }

    #[test]
    fn writes_bill_the_larger_item_and_transactions_twice() {
        let mut e = estimator();
        let big = "x".repeat(1500);
        e.add(&call("PutItem", json!({"TableName": "t", "Item": {"pk": {"S": "i"}, "sk": {"S": "META"}, "body": {"S": big}}})));
        assert_eq!(e.units.write_units, 2.0);
        // A smaller item replacing it still pays for the larger one; in a transaction, twice.
        e.add(&call("TransactWriteItems", json!({"TableName": "t", "TransactItems": [{"Put": {"TableName": "t", "Item": {"pk": {"S": "i"}, "sk": {"S": "META"}}}}]})));
        assert_eq!(e.units.write_units, 2.0 + 4.0);
        e.add(&call("GetItem", json!({"TableName": "t", "Key": {"pk": {"S": "i"}, "sk": {"S": "META"}}, "ConsistentRead": true})));
        e.add(&call(
            "GetItem",
            json!({"TableName": "t", "Key": {"pk": {"S": "missing"}, "sk": {"S": "META"}}}),
        ));
        assert_eq!(e.units.read_units, 1.5);
        assert_eq!(e.units.request_count(), 4);
    }

    #[test]
    fn a_query_reads_what_its_key_condition_matches() {
        let mut e = estimator();
        let event = |sk: &str| {
            json!({"pk": {"S": "i"}, "sk": {"S": sk}, "body": {"S": "y".repeat(3000)}})
                .as_object()
                .cloned()
                .unwrap()
        };
        e.seed("t", [event("EVT#1"), event("EVT#2"), event("META")]);
        let query = json!({"TableName": "t", "KeyConditionExpression": "pk = :pk AND begins_with(sk, :e)",
            "ExpressionAttributeValues": {":pk": {"S": "i"}, ":e": {"S": "EVT#"}}});
        e.add(&call("Query", query));
        // two 3 KB events: 6 KB is two 4 KB units, halved for an eventually consistent read.
        assert_eq!(e.units.read_units, 1.0);
        // A page of one: one 3 KB event, one unit, halved.
        let page = json!({"TableName": "t", "KeyConditionExpression": "pk = :pk AND begins_with(sk, :e)", "Limit": 1,
            "ExpressionAttributeValues": {":pk": {"S": "i"}, ":e": {"S": "EVT#"}}});
        e.add(&call("Query", page));
        assert_eq!(e.units.read_units, 1.5);
    }
}
