//! The body of `PATCH /v1/users/{userId}`: a JSON merge patch (RFC 7396).
//!
//! Every optional member has three states, which a plain `Option` cannot
//! express: `None` leaves the field alone (nothing is sent), `Some(None)`
//! clears it (`null` is sent), `Some(Some(value))` sets it. Members that
//! cannot be cleared (`name`, `email`, relation lists, privileged flags) are a
//! plain `Option`.
//!
//! ```
//! use users_client::patch::UserPatch;
//!
//! let patch = UserPatch {
//!     job_title: Some(Some("Head of Operations".parse().unwrap())),
//!     phone: Some(None), // cleared
//!     ..UserPatch::default()
//! };
//! assert_eq!(
//!     serde_json::to_value(&patch).unwrap(),
//!     serde_json::json!({ "jobTitle": "Head of Operations", "phone": null }),
//! );
//! ```
//!
//! The field names and types mirror `#/components/schemas/UserPatch`; the
//! contract test in `tests/` compares this type's JSON Schema with the spec.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::types;

/// The JSON Schema of a three-state member: `T` or `null` (OpenAPI 3.0
/// `nullable`). Used only for `schemars`; the value is an `Option<Option<T>>`.
struct Nullable<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Nullable<T> {
    fn schema_name() -> String {
        format!("Nullable_{}", T::schema_name())
    }

    fn is_referenceable() -> bool {
        false
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{Schema, SchemaObject, SubschemaValidation};
        let inner = generator.subschema_for::<T>();
        let mut object = match inner {
            Schema::Object(object) if !object.is_ref() => object,
            other => SchemaObject {
                subschemas: Some(Box::new(SubschemaValidation {
                    all_of: Some(vec![other]),
                    ..SubschemaValidation::default()
                })),
                ..SchemaObject::default()
            },
        };
        object
            .extensions
            .insert("nullable".to_owned(), serde_json::Value::Bool(true));
        Schema::Object(object)
    }
}

/// A merge patch of a user. See the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// The id the user has in another system.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::ExternalId>")]
    #[serde(rename = "externalId")]
    pub external_id: Option<Option<types::ExternalId>>,
    /// First and last name; both are required once `name` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<types::NameInput>,
    /// The email address (cannot be cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<types::Email>,
    /// An alternate email address.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Email>")]
    #[serde(rename = "secondaryEmail")]
    pub secondary_email: Option<Option<types::Email>>,
    /// The main phone number (E.164).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Phone>")]
    pub phone: Option<Option<types::Phone>>,
    /// The mobile phone number (E.164).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Phone>")]
    #[serde(rename = "mobilePhone")]
    pub mobile_phone: Option<Option<types::Phone>>,
    /// The job title, 1 to 75 characters.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::JobTitle>")]
    #[serde(rename = "jobTitle")]
    pub job_title: Option<Option<types::JobTitle>>,
    /// A title used with the name, e.g. `Dr.`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::HonorificTitle>")]
    pub title: Option<Option<types::HonorificTitle>>,
    /// The position or department.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Position>")]
    pub position: Option<Option<types::Position>>,
    /// A description of at most 5000 characters.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Description>")]
    pub description: Option<Option<types::Description>>,
    /// The date of birth, not in the future.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::DateOfBirth>")]
    #[serde(rename = "dateOfBirth")]
    pub date_of_birth: Option<Option<types::DateOfBirth>>,
    /// The gender.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Gender>")]
    pub gender: Option<Option<types::Gender>>,
    /// `{iso639}-{iso3166}` in lowercase.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::Locale>")]
    pub locale: Option<Option<types::Locale>>,
    /// An ISO 639-1 language code.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::LanguageCode>")]
    #[serde(rename = "preferredLanguage")]
    pub preferred_language: Option<Option<types::LanguageCode>>,
    /// An IANA time zone.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::TimeZone>")]
    #[serde(rename = "timeZone")]
    pub time_zone: Option<Option<types::TimeZone>>,
    /// The user's role as a contact of the account.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::ContactType>")]
    #[serde(rename = "contactType")]
    pub contact_type: Option<Option<types::ContactType>>,
    /// Seconds of inactivity after which the session ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::SessionTimeout>")]
    #[serde(rename = "sessionTimeout")]
    pub session_timeout: Option<Option<types::SessionTimeout>>,
    /// The address, merged member by member; `countryCode` is required once sent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<AddressPatch>")]
    pub address: Option<Option<AddressPatch>>,
    /// Multi-factor settings; `enabled` is required once sent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<MfaPatch>")]
    pub mfa: Option<Option<MfaPatch>>,
    /// Moves the user to this organization of the account; `null` to none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::OrganizationRefInput>")]
    #[serde(rename = "ownerOrganization")]
    pub owner_organization: Option<Option<types::OrganizationRefInput>>,
    /// The employee id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::EmployeeId>")]
    #[serde(rename = "employeeId")]
    pub employee_id: Option<Option<types::EmployeeId>>,
    /// An https URL of the user's picture; `null` removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::AvatarUrl>")]
    #[serde(rename = "avatarUrl")]
    pub avatar_url: Option<Option<types::AvatarUrl>>,
    /// Custom attributes, merged key by key; a `None` value removes that key.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<BTreeMap<String, Option<types::CustomAttributeValue>>>")]
    #[serde(rename = "customAttributes")]
    pub custom_attributes: Option<Option<BTreeMap<String, Option<types::CustomAttributeValue>>>>,
    /// Notification flags, merged flag by flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<NotificationsPatch>")]
    pub notifications: Option<Option<NotificationsPatch>>,
    /// Replaces the user's teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<types::RelationSet>,
    /// Teams to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "addTeams")]
    pub add_teams: Option<types::RelationSet>,
    /// Teams to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "removeTeams")]
    pub remove_teams: Option<types::RelationSet>,
    /// Replaces the user's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<types::RelationSet>,
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "addTags")]
    pub add_tags: Option<types::RelationSet>,
    /// Tags to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "removeTags")]
    pub remove_tags: Option<types::RelationSet>,
    /// Replaces the user's roles. Privileged (`users:admin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<types::RelationSet>,
    /// Roles to add. Privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "addRoles")]
    pub add_roles: Option<types::RelationSet>,
    /// Roles to remove. Privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "removeRoles")]
    pub remove_roles: Option<types::RelationSet>,
    /// Moves the user to this status. Privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<types::UserStatus>,
    /// Whether the user administers the account. Privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "isAdmin")]
    pub is_admin: Option<bool>,
    /// Whether the user may call the API. Privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "apiAccess")]
    pub api_access: Option<bool>,
    /// Whether the user must set a new password at next sign-in. Privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "mustResetPassword")]
    pub must_reset_password: Option<bool>,
}

/// A merge patch of the address: members are three-state (`country_code`
/// cannot be cleared). The server checks the merged address (a country, a
/// state in the US and Canada, a five-digit US ZIP code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPatch {
    /// The street address.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::AddressPatchInnerAddress1>")]
    pub address1: Option<Option<types::AddressPatchInnerAddress1>>,
    /// The address's specifics.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::AddressPatchInnerAddress2>")]
    pub address2: Option<Option<types::AddressPatchInnerAddress2>>,
    /// The city.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::AddressPatchInnerCity>")]
    pub city: Option<Option<types::AddressPatchInnerCity>>,
    /// The state or province; required in the US and Canada.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::AddressPatchInnerState>")]
    pub state: Option<Option<types::AddressPatchInnerState>>,
    /// The ZIP or postal code; five digits in the US.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<types::AddressPatchInnerZipCode>")]
    #[serde(rename = "zipCode")]
    pub zip_code: Option<Option<types::AddressPatchInnerZipCode>>,
    /// ISO 3166-1 alpha-2; the merged address must have one.
    #[serde(
        rename = "countryCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub country_code: Option<types::CountryCode>,
}

/// A merge patch of the multi-factor settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaPatch {
    /// Whether sign-in asks for a second factor; the merged settings must
    /// have it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How long a second-factor code stays valid, 1 to 1440 minutes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<std::num::NonZeroU32>")]
    #[serde(rename = "expirationInMinutes")]
    pub expiration_in_minutes: Option<Option<std::num::NonZeroU32>>,
}

/// A merge patch of the notification flags: `Some(None)` resets a flag to off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsPatch {
    /// The `onNewEmail` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onNewEmail")]
    pub on_new_email: Option<Option<bool>>,
    /// The `onHelpDeskMessage` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onHelpDeskMessage")]
    pub on_help_desk_message: Option<Option<bool>>,
    /// The `onNewWallPost` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onNewWallPost")]
    pub on_new_wall_post: Option<Option<bool>>,
    /// The `onNewMember` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onNewMember")]
    pub on_new_member: Option<Option<bool>>,
    /// The `onProfileChanges` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onProfileChanges")]
    pub on_profile_changes: Option<Option<bool>>,
    /// The `onNewBlogComment` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onNewBlogComment")]
    pub on_new_blog_comment: Option<Option<bool>>,
    /// The `onNewEventComment` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onNewEventComment")]
    pub on_new_event_comment: Option<Option<bool>>,
    /// The `onTariffChange` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onTariffChange")]
    pub on_tariff_change: Option<Option<bool>>,
    /// The `onBookingChange` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onBookingChange")]
    pub on_booking_change: Option<Option<bool>>,
    /// The `onTentativeBookingChange` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onTentativeBookingChange")]
    pub on_tentative_booking_change: Option<Option<bool>>,
    /// The `onPurchases` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onPurchases")]
    pub on_purchases: Option<Option<bool>>,
    /// The `onVisitorRegistration` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onVisitorRegistration")]
    pub on_visitor_registration: Option<Option<bool>>,
    /// The `onPlatformInvoices` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onPlatformInvoices")]
    pub on_platform_invoices: Option<Option<bool>>,
    /// The `onAccessControlErrors` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onAccessControlErrors")]
    pub on_access_control_errors: Option<Option<bool>>,
    /// The `onMemberRemovedFromTeam` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onMemberRemovedFromTeam")]
    pub on_member_removed_from_team: Option<Option<bool>>,
    /// The `onVirtualOfficeTariffChange` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onVirtualOfficeTariffChange")]
    pub on_virtual_office_tariff_change: Option<Option<bool>>,
    /// The `onVirtualOfficeDeliveryPreferenceUpdate` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onVirtualOfficeDeliveryPreferenceUpdate")]
    pub on_virtual_office_delivery_preference_update: Option<Option<bool>>,
    /// The `onIdentityCheckUpdate` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "onIdentityCheckUpdate")]
    pub on_identity_check_update: Option<Option<bool>>,
    /// The `receiveCommunityDigest` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "receiveCommunityDigest")]
    pub receive_community_digest: Option<Option<bool>>,
    /// The `receiveEveryMessage` flag.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "::serde_with::rust::double_option"
    )]
    #[schemars(with = "Nullable<bool>")]
    #[serde(rename = "receiveEveryMessage")]
    pub receive_every_message: Option<Option<bool>>,
}
