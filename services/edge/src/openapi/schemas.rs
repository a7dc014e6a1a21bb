//! JSON Schemas of the contracts' messages: well-known types, required fields, UUID formats,
//! and the comments of the proto files as descriptions.

use std::collections::{BTreeMap, HashMap, VecDeque};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
};
use serde_json::{Map, Value as Json, json};

/// Proto source comments by file and location path.
pub(super) struct Comments(HashMap<(String, Vec<i32>), String>);

impl Comments {
    pub(super) fn of(pool: &DescriptorPool) -> Comments {
        let mut map = HashMap::new();
        for file in pool.files() {
            let proto = file.file_descriptor_proto();
            let Some(info) = &proto.source_code_info else {
                continue;
            };
            for location in &info.location {
                let text = location.leading_comments().trim();
                if !text.is_empty() {
                    map.insert(
                        (file.name().to_owned(), location.path.clone()),
                        text.lines().map(str::trim).collect::<Vec<_>>().join("\n"),
                    );
                }
            }
        }
        Comments(map)
    }

    pub(super) fn get(&self, file: &FileDescriptor, path: &[i32]) -> Option<&str> {
        self.0
            .get(&(file.name().to_owned(), path.to_vec()))
            .map(String::as_str)
    }
}

/// The schema of a well-known type, in its proto3 JSON form.
pub(super) fn well_known(name: &str) -> Option<Json> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"})
        }
        "google.protobuf.FieldMask" => json!({"type": "string"}),
        "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Any" => json!({"type": "object",
            "properties": {"@type": {"type": "string"}}, "required": ["@type"]}),
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({"type": "integer"})
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": "string", "pattern": "^-?[0-9]+$"})
        }
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => {
            json!({"type": "number"})
        }
        "google.protobuf.BytesValue" => json!({"type": "string", "contentEncoding": "base64"}),
        _ => return None,
    })
}

/// Whether a field is marked `(google.api.field_behavior) = REQUIRED`: a call without it is
/// refused.
pub(super) fn is_required(field: &FieldDescriptor) -> bool {
    const REQUIRED: i32 = 2;
    let pool = field.parent_message().parent_pool();
    let Some(behavior) = pool.get_extension_by_name("google.api.field_behavior") else {
        return false;
    };
    let options = field.options();
    if !options.has_extension(&behavior) {
        return false;
    }
    match options.get_extension(&behavior).as_ref() {
        prost_reflect::Value::List(values) => {
            values.iter().any(|v| v.as_enum_number() == Some(REQUIRED))
        }
        _ => false,
    }
}

/// Request fields that hold an id but not a UUID: keys the caller makes up (`request_id`,
/// AIP-155), OAuth client ids, tax numbers, and roles, whose ids are also the built-in roles'
/// names (`viewer`).
pub(super) const NOT_UUIDS: [&str; 4] = ["request_id", "client_id", "tax_id", "role_id"];

/// The schema of a request's id field, which the server reads as a UUID: `format: uuid` when it
/// is required, else a UUID or the empty string (none). Only request messages: answers carry
/// ids of other shapes (a role's name, an audit entry's target).
pub(super) fn uuid_schema(field: &FieldDescriptor) -> Option<Json> {
    let message = field.parent_message();
    let name = field.name();
    let is_id = name == "id" || name == "ids" || name.ends_with("_id") || name.ends_with("_ids");
    let role_request = message.name().ends_with("RoleRequest");
    if field.kind() != Kind::String || field.is_map() || !message.name().ends_with("Request") {
        return None;
    }
    // A role goes by its id or, built in, its name: an id of printable ASCII.
    if name == "role" || name == "role_id" || (role_request && name == "id") {
        let least = if is_required(field) { 1 } else { 0 };
        return Some(json!({"type": "string", "pattern": format!("^[!-~]{{{least},{MAX_ID}}}$")}));
    }
    // AIP-155: the caller's key for a retried create, at most 128 printable ASCII characters.
    if name == "request_id" {
        return Some(json!({"type": "string", "maxLength": 128, "pattern": "^[!-~]*$"}));
    }
    if !is_id || NOT_UUIDS.contains(&name) {
        return None;
    }
    const UUID: &str =
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    const UUID_OR_NONE: &str =
        "^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
    let one = if is_required(field) {
        json!({"type": "string", "format": "uuid", "pattern": UUID})
    } else {
        json!({"type": "string", "pattern": UUID_OR_NONE})
    };
    Some(if field.is_list() {
        let mut list = json!({"type": "array", "items": {"type": "string", "format": "uuid", "pattern": UUID}});
        if is_required(field) {
            list["minItems"] = 1.into();
        }
        // A batch (`Batch…Request.ids`) names each record once, and at most this many.
        if name == "ids" && message.name().starts_with("Batch") {
            list["maxItems"] = MAX_BATCH.into();
            list["uniqueItems"] = true.into();
        }
        list
    } else {
        one
    })
}

/// The most records a batch call names (`BatchUpdateCustomers`, `BatchDeleteCustomers`).
const MAX_BATCH: usize = 100;

/// The longest id a request may carry.
pub(super) const MAX_ID: usize = crm_core::api::MAX_ID_LEN;

/// Collects the schemas of messages as they are referenced.
pub(super) struct Schemas<'a> {
    pub(super) comments: &'a Comments,
    pub(super) done: BTreeMap<String, Json>,
    pub(super) todo: VecDeque<MessageDescriptor>,
}

impl Schemas<'_> {
    pub(super) fn reference(&mut self, message: &MessageDescriptor) -> Json {
        if let Some(schema) = well_known(message.full_name()) {
            return schema;
        }
        if !self.done.contains_key(message.full_name()) {
            self.done.insert(message.full_name().to_owned(), Json::Null);
            self.todo.push_back(message.clone());
        }
        json!({"$ref": format!("#/components/schemas/{}", message.full_name())})
    }

    pub(super) fn enumeration(&self, e: &EnumDescriptor) -> Json {
        let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
        json!({"type": "string", "enum": names})
    }

    pub(super) fn scalar(&mut self, kind: &Kind) -> Json {
        match kind {
            Kind::Double | Kind::Float => json!({"type": "number"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int32", "minimum": 0})
            }
            // proto3 JSON writes 64-bit integers as strings and reads numbers too.
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": ["string", "integer"], "format": "int64", "pattern": "^-?[0-9]+$"})
            }
            Kind::Uint64 | Kind::Fixed64 => {
                json!({"type": ["string", "integer"], "format": "uint64", "pattern": "^[0-9]+$", "minimum": 0})
            }
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
            Kind::Message(m) => self.reference(m),
            Kind::Enum(e) => self.enumeration(e),
        }
    }

    pub(super) fn field(&mut self, field: &FieldDescriptor) -> Json {
        let mut schema = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("a map field's kind is its entry message")
            };
            let value = entry.map_entry_value_field();
            json!({"type": "object", "additionalProperties": self.scalar(&value.kind())})
        } else if let Some(id) = uuid_schema(field) {
            id
        } else if field.is_list() {
            json!({"type": "array", "items": self.scalar(&field.kind())})
        } else {
            self.scalar(&field.kind())
        };
        if is_required(field)
            && field.kind() == Kind::String
            && !field.is_list()
            && let Json::Object(object) = &mut schema
        {
            object.entry("minLength").or_insert(1.into());
        }
        if let Some(text) = self.comments.get(&field.parent_file(), field.path())
            && let Json::Object(object) = &mut schema
            && !object.contains_key("$ref")
        {
            object.insert("description".into(), text.into());
        }
        schema
    }

    pub(super) fn message(&mut self, message: &MessageDescriptor) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.fields() {
            let schema = self.field(&field);
            if is_required(&field) {
                required.push(field.json_name().to_owned());
                properties.insert(field.json_name().to_owned(), schema);
            } else {
                // proto3 JSON reads `null` as the field's default, as the server does.
                properties.insert(
                    field.json_name().to_owned(),
                    json!({"anyOf": [schema, {"type": "null"}]}),
                );
            }
        }
        // The server refuses a field the message does not have (400), so the document does too.
        let mut schema =
            json!({"type": "object", "properties": properties, "additionalProperties": false});
        if !required.is_empty() {
            schema["required"] = required.into();
        }
        if let Some(text) = self.comments.get(&message.parent_file(), message.path()) {
            schema["description"] = text.into();
        }
        schema
    }

    pub(super) fn finish(mut self) -> BTreeMap<String, Json> {
        while let Some(message) = self.todo.pop_front() {
            let schema = self.message(&message);
            self.done.insert(message.full_name().to_owned(), schema);
        }
        self.done
    }
}
