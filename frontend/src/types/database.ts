export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  public: {
    Tables: {
      attention_resolutions: {
        Row: {
          item_id: string
          note: string
          resolved_at: string
          resolved_by: string
        }
        Insert: {
          item_id: string
          note: string
          resolved_at?: string
          resolved_by: string
        }
        Update: {
          item_id?: string
          note?: string
          resolved_at?: string
          resolved_by?: string
        }
        Relationships: []
      }
      checkout_session_contradictions: {
        Row: {
          checkout_session_id: string
          claimed: NonNullable<Json>
          fields: string[]
          id: number
          payment_intent_id: string | null
          received_at: string
          resolved_at: string | null
          source: string
          stripe_event_id: string | null
        }
        Insert: {
          checkout_session_id: string
          claimed: NonNullable<Json>
          fields: string[]
          id?: never
          payment_intent_id?: string | null
          received_at?: string
          resolved_at?: string | null
          source: string
          stripe_event_id?: string | null
        }
        Update: {
          checkout_session_id?: string
          claimed?: NonNullable<Json>
          fields?: string[]
          id?: never
          payment_intent_id?: string | null
          received_at?: string
          resolved_at?: string | null
          source?: string
          stripe_event_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "checkout_session_contradictions_checkout_session_id_fkey"
            columns: ["checkout_session_id"]
            isOneToOne: false
            referencedRelation: "checkout_sessions"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "checkout_session_contradictions_stripe_event_id_fkey"
            columns: ["stripe_event_id"]
            isOneToOne: false
            referencedRelation: "stripe_events"
            referencedColumns: ["id"]
          },
        ]
      }
      checkout_sessions: {
        Row: {
          amount_discount: number
          amount_paid: number | null
          amount_refunded: number
          amount_total: number
          card_brand: string | null
          card_last4: string | null
          coupon_id: string | null
          created_at: string
          currency: string
          dispute_status: string | null
          expires_at: string
          fulfilment: string | null
          id: string
          invoice_id: string | null
          invoice_url: string | null
          lesson_id: string
          needs_attention: boolean | null
          paid_at: string | null
          payment_method_type: string | null
          payment_status: string
          promotion_code_id: string | null
          receipt_url: string | null
          refund_reason: string | null
          refunded_at: string | null
          status: string
          stripe_customer_id: string | null
          stripe_payment_intent_id: string | null
          synced_at: string | null
          updated_at: string
          url: string | null
          user_id: string | null
        }
        Insert: {
          amount_discount?: number
          amount_paid?: never
          amount_refunded?: number
          amount_total: number
          card_brand?: string | null
          card_last4?: string | null
          coupon_id?: string | null
          created_at?: string
          currency: string
          dispute_status?: string | null
          expires_at: string
          fulfilment?: string | null
          id: string
          invoice_id?: string | null
          invoice_url?: string | null
          lesson_id: string
          needs_attention?: never
          paid_at?: string | null
          payment_method_type?: string | null
          payment_status?: string
          promotion_code_id?: string | null
          receipt_url?: string | null
          refund_reason?: string | null
          refunded_at?: string | null
          status?: string
          stripe_customer_id?: string | null
          stripe_payment_intent_id?: string | null
          synced_at?: string | null
          updated_at?: string
          url?: string | null
          user_id?: string | null
        }
        Update: {
          amount_discount?: number
          amount_paid?: never
          amount_refunded?: number
          amount_total?: number
          card_brand?: string | null
          card_last4?: string | null
          coupon_id?: string | null
          created_at?: string
          currency?: string
          dispute_status?: string | null
          expires_at?: string
          fulfilment?: string | null
          id?: string
          invoice_id?: string | null
          invoice_url?: string | null
          lesson_id?: string
          needs_attention?: never
          paid_at?: string | null
          payment_method_type?: string | null
          payment_status?: string
          promotion_code_id?: string | null
          receipt_url?: string | null
          refund_reason?: string | null
          refunded_at?: string | null
          status?: string
          stripe_customer_id?: string | null
          stripe_payment_intent_id?: string | null
          synced_at?: string | null
          updated_at?: string
          url?: string | null
          user_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "checkout_sessions_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: false
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
        ]
      }
      early_fraud_warning_refunds: {
        Row: {
          amount: number
          attempts: number
          charge_id: string
          claimed_at: string | null
          created_at: string
          currency: string
          early_fraud_warning_id: string
          idempotency_key: string | null
          payment_intent_id: string
          refund_id: string | null
          refused_code: string | null
          requested_at: string | null
        }
        Insert: {
          amount: number
          attempts?: number
          charge_id: string
          claimed_at?: string | null
          created_at?: string
          currency: string
          early_fraud_warning_id: string
          idempotency_key?: never
          payment_intent_id: string
          refund_id?: string | null
          refused_code?: string | null
          requested_at?: string | null
        }
        Update: {
          amount?: number
          attempts?: number
          charge_id?: string
          claimed_at?: string | null
          created_at?: string
          currency?: string
          early_fraud_warning_id?: string
          idempotency_key?: never
          payment_intent_id?: string
          refund_id?: string | null
          refused_code?: string | null
          requested_at?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "early_fraud_warning_refunds_early_fraud_warning_id_fkey"
            columns: ["early_fraud_warning_id"]
            isOneToOne: false
            referencedRelation: "early_fraud_warnings"
            referencedColumns: ["id"]
          },
        ]
      }
      early_fraud_warnings: {
        Row: {
          action: string | null
          action_reason: string | null
          actionable: boolean
          auto_refund: boolean
          charge_id: string
          created: string
          decided_at: string | null
          fraud_type: string | null
          id: string
          payment_intent_id: string | null
          received_at: string
          resolved_at: string | null
        }
        Insert: {
          action?: string | null
          action_reason?: string | null
          actionable: boolean
          auto_refund: boolean
          charge_id: string
          created: string
          decided_at?: string | null
          fraud_type?: string | null
          id: string
          payment_intent_id?: string | null
          received_at?: string
          resolved_at?: string | null
        }
        Update: {
          action?: string | null
          action_reason?: string | null
          actionable?: boolean
          auto_refund?: boolean
          charge_id?: string
          created?: string
          decided_at?: string | null
          fraud_type?: string | null
          id?: string
          payment_intent_id?: string | null
          received_at?: string
          resolved_at?: string | null
        }
        Relationships: []
      }
      lesson_content: {
        Row: {
          body: string
          lesson_id: string
          updated_at: string
        }
        Insert: {
          body: string
          lesson_id: string
          updated_at?: string
        }
        Update: {
          body?: string
          lesson_id?: string
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "lesson_content_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: true
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
        ]
      }
      lesson_media: {
        Row: {
          captions_path: string | null
          created_at: string
          duration_seconds: number | null
          external: boolean
          external_url: string | null
          id: string
          kind: Database["public"]["Enums"]["lesson_media_kind"]
          lesson_id: string
          object_path: string | null
          page_count: number | null
          position: number
          title: string
          updated_at: string
        }
        Insert: {
          captions_path?: string | null
          created_at?: string
          duration_seconds?: number | null
          external?: never
          external_url?: string | null
          id?: string
          kind: Database["public"]["Enums"]["lesson_media_kind"]
          lesson_id: string
          object_path?: string | null
          page_count?: number | null
          position?: number
          title: string
          updated_at?: string
        }
        Update: {
          captions_path?: string | null
          created_at?: string
          duration_seconds?: number | null
          external?: never
          external_url?: string | null
          id?: string
          kind?: Database["public"]["Enums"]["lesson_media_kind"]
          lesson_id?: string
          object_path?: string | null
          page_count?: number | null
          position?: number
          title?: string
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "lesson_media_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: false
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
        ]
      }
      lesson_progress: {
        Row: {
          lesson_id: string
          section: string
          updated_at: string
          user_id: string
        }
        Insert: {
          lesson_id: string
          section?: string
          updated_at?: string
          user_id?: string
        }
        Update: {
          lesson_id?: string
          section?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "lesson_progress_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: false
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
        ]
      }
      lessons: {
        Row: {
          author: string | null
          cover_alt: string | null
          cover_path: string | null
          created_at: string
          currency: string
          description: string
          display_order: number
          id: string
          level: string | null
          minutes: number | null
          outline: string[]
          preview: string
          price_cents: number
          published: boolean
          slug: string
          stripe_price_id: string | null
          title: string
          updated_at: string
        }
        Insert: {
          author?: string | null
          cover_alt?: string | null
          cover_path?: string | null
          created_at?: string
          currency?: string
          description?: string
          display_order?: number
          id?: string
          level?: string | null
          minutes?: number | null
          outline?: string[]
          preview?: string
          price_cents: number
          published?: boolean
          slug: string
          stripe_price_id?: string | null
          title: string
          updated_at?: string
        }
        Update: {
          author?: string | null
          cover_alt?: string | null
          cover_path?: string | null
          created_at?: string
          currency?: string
          description?: string
          display_order?: number
          id?: string
          level?: string | null
          minutes?: number | null
          outline?: string[]
          preview?: string
          price_cents?: number
          published?: boolean
          slug?: string
          stripe_price_id?: string | null
          title?: string
          updated_at?: string
        }
        Relationships: []
      }
      promotion_codes: {
        Row: {
          active: boolean
          code: string
          coupon_id: string | null
          described_at: string
          id: string
          updated_at: string
        }
        Insert: {
          active: boolean
          code: string
          coupon_id?: string | null
          described_at: string
          id: string
          updated_at?: string
        }
        Update: {
          active?: boolean
          code?: string
          coupon_id?: string | null
          described_at?: string
          id?: string
          updated_at?: string
        }
        Relationships: []
      }
      purchased_lessons: {
        Row: {
          amount_total: number
          currency: string
          disputed_at: string | null
          id: string
          lesson_id: string
          purchased_at: string
          refunded_at: string | null
          revoked_reason: string | null
          status: string
          stripe_checkout_session_id: string
          stripe_customer_id: string | null
          stripe_payment_intent_id: string | null
          updated_at: string
          user_id: string
        }
        Insert: {
          amount_total: number
          currency: string
          disputed_at?: string | null
          id?: string
          lesson_id: string
          purchased_at: string
          refunded_at?: string | null
          revoked_reason?: string | null
          status: string
          stripe_checkout_session_id: string
          stripe_customer_id?: string | null
          stripe_payment_intent_id?: string | null
          updated_at?: string
          user_id: string
        }
        Update: {
          amount_total?: number
          currency?: string
          disputed_at?: string | null
          id?: string
          lesson_id?: string
          purchased_at?: string
          refunded_at?: string | null
          revoked_reason?: string | null
          status?: string
          stripe_checkout_session_id?: string
          stripe_customer_id?: string | null
          stripe_payment_intent_id?: string | null
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "purchased_lessons_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: false
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "purchased_lessons_stripe_checkout_session_id_fkey"
            columns: ["stripe_checkout_session_id"]
            isOneToOne: true
            referencedRelation: "checkout_sessions"
            referencedColumns: ["id"]
          },
        ]
      }
      stripe_events: {
        Row: {
          amount_refunded: number | null
          amount_total: number | null
          api_version: string | null
          card_brand: string | null
          card_last4: string | null
          checkout_session_id: string | null
          created: string
          currency: string | null
          error: string | null
          id: string
          invoice_url: string | null
          livemode: boolean
          object_id: string | null
          outcome: string | null
          outcome_reason: string | null
          payload: Json | null
          payload_cleared_at: string | null
          payment_fact: string | null
          payment_intent_id: string | null
          payment_method_type: string | null
          processed_at: string | null
          receipt_url: string | null
          received_at: string
          refund_amount: number | null
          refund_created: string | null
          refund_status: string | null
          type: string
          unsettled: boolean | null
        }
        Insert: {
          amount_refunded?: number | null
          amount_total?: number | null
          api_version?: string | null
          card_brand?: string | null
          card_last4?: string | null
          checkout_session_id?: string | null
          created: string
          currency?: string | null
          error?: string | null
          id: string
          invoice_url?: string | null
          livemode?: boolean
          object_id?: string | null
          outcome?: string | null
          outcome_reason?: string | null
          payload?: Json | null
          payload_cleared_at?: string | null
          payment_fact?: string | null
          payment_intent_id?: string | null
          payment_method_type?: string | null
          processed_at?: string | null
          receipt_url?: string | null
          received_at?: string
          refund_amount?: number | null
          refund_created?: string | null
          refund_status?: string | null
          type: string
          unsettled?: never
        }
        Update: {
          amount_refunded?: number | null
          amount_total?: number | null
          api_version?: string | null
          card_brand?: string | null
          card_last4?: string | null
          checkout_session_id?: string | null
          created?: string
          currency?: string | null
          error?: string | null
          id?: string
          invoice_url?: string | null
          livemode?: boolean
          object_id?: string | null
          outcome?: string | null
          outcome_reason?: string | null
          payload?: Json | null
          payload_cleared_at?: string | null
          payment_fact?: string | null
          payment_intent_id?: string | null
          payment_method_type?: string | null
          processed_at?: string | null
          receipt_url?: string | null
          received_at?: string
          refund_amount?: number | null
          refund_created?: string | null
          refund_status?: string | null
          type?: string
          unsettled?: never
        }
        Relationships: []
      }
      unmatched_checkout_sessions: {
        Row: {
          amount_total: number | null
          claimed: NonNullable<Json>
          currency: string | null
          first_seen_at: string
          id: string
          payment_intent_id: string | null
          reason: string
        }
        Insert: {
          amount_total?: number | null
          claimed: NonNullable<Json>
          currency?: string | null
          first_seen_at?: string
          id: string
          payment_intent_id?: string | null
          reason: string
        }
        Update: {
          amount_total?: number | null
          claimed?: NonNullable<Json>
          currency?: string | null
          first_seen_at?: string
          id?: string
          payment_intent_id?: string | null
          reason?: string
        }
        Relationships: []
      }
    }
    Views: {
      media_needing_attention: {
        Row: {
          external_url: string | null
          lesson_id: string | null
          reason: string | null
          reference: string | null
          since: string | null
          source: string | null
        }
        Insert: {
          external_url?: string | null
          lesson_id?: string | null
          reason?: never
          reference?: string | null
          since?: string | null
          source?: never
        }
        Update: {
          external_url?: string | null
          lesson_id?: string | null
          reason?: never
          reference?: string | null
          since?: string | null
          source?: never
        }
        Relationships: [
          {
            foreignKeyName: "lesson_media_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: false
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
        ]
      }
      payments_needing_attention: {
        Row: {
          amount_total: number | null
          currency: string | null
          email: string | null
          id: string | null
          lesson_id: string | null
          reason: string | null
          reference: string | null
          since: string | null
          source: string | null
          stripe_payment_intent_id: string | null
          suggested_action: string | null
          user_id: string | null
          what: string | null
        }
        Relationships: []
      }
      promotion_code_sales: {
        Row: {
          amount_discount: number | null
          amount_net: number | null
          amount_paid: number | null
          amount_refunded: number | null
          amount_subtotal: number | null
          code: string | null
          coupon_id: string | null
          currency: string | null
          lesson_id: string | null
          promotion_code_id: string | null
          purchases: number | null
          slug: string | null
        }
        Relationships: [
          {
            foreignKeyName: "checkout_sessions_lesson_id_fkey"
            columns: ["lesson_id"]
            isOneToOne: false
            referencedRelation: "lessons"
            referencedColumns: ["id"]
          },
        ]
      }
    }
    Functions: {
      attach_checkout_session: { Args: { p_session: Json }; Returns: Json }
      attention_summary: {
        Args: Record<PropertyKey, never>
        Returns: Record<string, unknown>
      }
      begin_checkout: {
        Args: { p_lesson_id: string; p_user_id: string }
        Returns: Json
      }
      checkout_session_for_user: {
        Args: { p_session_id: string; p_user_id: string }
        Returns: Json
      }
      claim_early_fraud_warning_refunds: {
        Args: { p_event_id?: string }
        Returns: Json
      }
      finish_early_fraud_warning_refund: {
        Args: {
          p_payment_intent: string
          p_refund_id?: string
          p_refused_code?: string
        }
        Returns: string
      }
      handle_early_fraud_warning: {
        Args: { p_auto_refund?: boolean; p_event: Json }
        Returns: string
      }
      handle_stripe_event: { Args: { p_event: Json }; Returns: string }
      lesson_catalog: {
        Args: Record<PropertyKey, never>
        Returns: {
          access: Database["public"]["Enums"]["lesson_access"]
          access_changed_at: string
          currency: string
          description: string
          id: string
          owned: boolean
          pending: boolean
          price_cents: number
          slug: string
          title: string
        }[]
      }
      prune_stripe_event_payloads: {
        Args: { p_older_than?: string }
        Returns: number
      }
      purchase_list: {
        Args: Record<PropertyKey, never>
        Returns: {
          amount_discount: number
          amount_total: number
          currency: string
          id: string
          invoice_url: string
          lesson_id: string
          occurred_at: string
          payment_method_brand: string
          payment_method_last4: string
          payment_method_type: string
          payment_reference: string
          promotion_code: string
          receipt_url: string
          refund_reason: string
          refunded_amount: number
          refunded_at: string
          slug: string
          status: Database["public"]["Enums"]["payment_state"]
          title: string
        }[]
      }
      record_purchase: {
        Args: { p_event?: Json; p_session: Json }
        Returns: string
      }
      resolve_attention: {
        Args: { p_item_id: string; p_note: string; p_resolved_by: string }
        Returns: Json
      }
      revoke_purchase: {
        Args: { p_event: Json; p_object: Json }
        Returns: string
      }
      sync_checkout_session: { Args: { p_session: Json }; Returns: string }
    }
    Enums: {
      lesson_access:
        | "free"
        | "owned"
        | "processing"
        | "disputed"
        | "failed"
        | "refunded"
        | "dispute_lost"
        | "available"
      lesson_media_kind: "video" | "audio" | "image" | "pdf"
      payment_state:
        | "processing"
        | "paid"
        | "failed"
        | "refunded"
        | "partly_refunded"
        | "disputed"
        | "dispute_won"
        | "dispute_lost"
    }
    CompositeTypes: {
      [_ in never]: never
    }
  }
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never

export const Constants = {
  public: {
    Enums: {
      lesson_access: [
        "free",
        "owned",
        "processing",
        "disputed",
        "failed",
        "refunded",
        "dispute_lost",
        "available",
      ],
      lesson_media_kind: ["video", "audio", "image", "pdf"],
      payment_state: [
        "processing",
        "paid",
        "failed",
        "refunded",
        "partly_refunded",
        "disputed",
        "dispute_won",
        "dispute_lost",
      ],
    },
  },
} as const
